"""Tasks only the recovery tests load into a worker (`celery worker --include tests.worker_tasks`):
each records that it ran, with the worker's process id, then takes its time."""

import os
import time
from pathlib import Path

from celery import shared_task


@shared_task(name="tests.record_and_sleep", acks_late=True)
def record_and_sleep(log_path: str, label: str, seconds: float) -> None:
    with open(log_path, "a") as log:
        log.write(f"start {label} {os.getpid()}\n")
    time.sleep(seconds)
    with open(log_path, "a") as log:
        log.write(f"done {label} {os.getpid()}\n")


def runs(log_path) -> list[tuple[str, str, str]]:
    """(event, label, pid) for each line the tasks wrote."""
    path = Path(log_path)
    return [tuple(line.split()) for line in path.read_text().splitlines()] if path.exists() else []
