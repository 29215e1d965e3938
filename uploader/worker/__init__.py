"""How a host's Celery app runs the upload worker: the bootsteps that consume the S3 event queue,
relay the outbox, report liveness and keep held task messages invisible, and the worker's command
line. Named by dotted path, with no import of Django or of the app, so a host's celery.py may
import this before Django is set up (as config/celery.py does)."""

import sys

BOOTSTEPS = (
    "uploader.worker.consumer:S3EventConsumerStep",
    "uploader.worker.relay:OutboxRelayStep",
    "uploader.worker.liveness:LivenessStep",
    "uploader.worker.broker:TaskVisibilityStep",
)


def install(app) -> None:
    """Add the worker's bootsteps to a host's Celery app (`uploader.worker.install(app)`)."""
    for step in BOOTSTEPS:
        app.steps["worker"].add(step)


def worker_command(app_module: str, concurrency: int, *extra: str) -> list[str]:
    """The `celery worker` command line of every worker this project starts (runlocal, the tests,
    the bench): SQS has no broadcast, so gossip, mingle and heartbeats are off."""
    return [
        sys.executable, "-m", "celery", "-A", app_module, "worker", "--loglevel", "INFO",
        "--concurrency", str(concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat", *extra,
    ]  # fmt: skip
