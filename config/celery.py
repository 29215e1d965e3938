"""The Celery app. Its broker is SQS; the S3 event queue is consumed, the outbox relayed and the
worker's liveness reported by worker bootsteps, named here by their dotted paths so this module
imports no app code."""

import os
import sys

from celery import Celery

# Like wsgi.py: a host that forgets DJANGO_SETTINGS_MODULE gets production's demands, not local's
# throwaway keys.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("uploader")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["worker"].add("uploader.consumer:S3EventConsumerStep")
app.steps["worker"].add("uploader.relay:OutboxRelayStep")
app.steps["worker"].add("uploader.liveness:LivenessStep")
app.steps["worker"].add("uploader.broker:TaskVisibilityStep")


def worker_command(concurrency: int, *extra: str) -> list[str]:
    """The `celery worker` command line of every worker this project starts (runlocal, the tests,
    the bench): SQS has no broadcast, so gossip, mingle and heartbeats are off."""
    return [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
        "--concurrency", str(concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat", *extra,
    ]  # fmt: skip
