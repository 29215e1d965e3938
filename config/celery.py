"""The Celery app. Its broker is SQS; the upload worker's bootsteps (the S3 event consumer, the
outbox relay, liveness, task visibility) come from uploader.worker, which imports no Django code."""

import os

from celery import Celery

from uploader import worker

# Like wsgi.py: a host that forgets DJANGO_SETTINGS_MODULE gets production's demands, not local's
# throwaway keys.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("uploader")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
worker.install(app)


def worker_command(concurrency: int, *extra: str) -> list[str]:
    """This project's `celery worker` command line (runlocal, the tests, the bench)."""
    return worker.worker_command("config", concurrency, *extra)
