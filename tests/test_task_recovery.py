"""Tasks recover in seconds: a worker keeps the task messages it holds invisible while it lives (so
a long task is never run by a second worker), a killed worker's tasks come back within the queue's
short visibility timeout, and an acknowledgement an outage kept from SQS is made when it returns
instead of the task running again after the timeout."""

import os
import time
from collections import Counter

import pytest
from django.conf import settings

from config.celery import app
from uploader import aws
from uploader.aws import mirror
from uploader.models import OutboxMessage, Upload, UploadEvent

from .factories import jpeg_bytes
from .helpers import child_pids, kill_and_wait, put_object, queue_depth, start_upload, wait_for
from .test_outage import endpoint  # noqa: F401  (the fixture)
from .worker_tasks import runs

pytestmark = pytest.mark.django_db(transaction=True)
INCLUDE = ("--include", "tests.worker_tasks")


@pytest.fixture
def task_visibility():
    """Sets the task queue's visibility timeout for this test (and the workers' heartbeat by the
    same figure, through their environment); restored after."""
    sqs, url = aws.sqs(), settings.CELERY_TASK_QUEUE_URL
    before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]

    def set_to(seconds):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})
        return {"UPLOADER_TASK_VISIBILITY_TIMEOUT": str(seconds)}

    yield set_to
    sqs.set_queue_attributes(QueueUrl=url, Attributes=before)


def _send(log, labels, seconds):
    for label in labels:
        app.send_task("tests.record_and_sleep", args=[str(log), label, seconds])


def _count(log, event):
    return Counter(label for kind, label, _ in runs(log) if kind == event)


def test_a_task_running_past_the_visibility_timeout_is_never_run_by_a_second_worker(
    start_worker, task_visibility, tmp_path
):
    environment = task_visibility(4)
    log = tmp_path / "runs.log"
    first = start_worker(1, INCLUDE, **environment)
    start_worker(1, INCLUDE, **environment)  # idle, polling: it would take a message that came back
    _send(log, ["long-a", "long-b"], seconds=12)  # three times the timeout
    wait_for(lambda: sum(_count(log, "done").values()) == 2, timeout=90, what="both long tasks done")
    wait_for(lambda: queue_depth(settings.CELERY_TASK_DEFAULT_QUEUE) == (0, 0), what="the task queue empty")
    assert _count(log, "start") == {"long-a": 1, "long-b": 1}, runs(log)
    assert "could not reach the task queue" not in first.log()


def _settled(uploads):
    """Every upload available with its thumbnail made, the mirror at each row's version, nothing
    owed, both queues empty."""
    rows = list(Upload.objects.filter(pk__in=[u.pk for u in uploads]))
    if any(u.status != "available" or u.media_status != "ready" for u in rows) or OutboxMessage.objects.exists():
        return False
    if any(
        queue_depth(name) != (0, 0) for name in (settings.UPLOADER_EVENTS_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE)
    ):
        return False
    return all((item := mirror.get(u.pk)) and item["version"] == {"N": str(u.version)} for u in rows)


def test_a_killed_workers_tasks_run_elsewhere_within_the_visibility_timeout(user, start_worker, tmp_path):
    """The production timeout (30 s): a worker killed while it holds tasks (one running, the
    thumbnails of a dozen photos and more prefetched or queued behind it); another worker has done
    them all, every photo available with its thumbnail and mirrored at its version, both queues
    empty, within 60 s of the kill."""
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == 30
    log = tmp_path / "runs.log"
    doomed = start_worker(1, INCLUDE, UPLOADER_DERIVATIVES="1")
    labels = [f"t{n}" for n in range(6)]
    _send(log, labels, seconds=1.5)
    wait_for(lambda: _count(log, "start"), what="the first task to start")
    photos = []
    for n in range(12):
        body = jpeg_bytes(40 + n, 30)
        upload, instruction = start_upload(user, body, name=f"IMG_{n}.jpg")
        assert put_object(instruction, body).status_code == 200
        photos.append(upload)
    wait_for(lambda: queue_depth(settings.CELERY_TASK_DEFAULT_QUEUE)[1] >= 2, what="tasks held by the worker")
    kill_and_wait([doomed.proc.pid, *child_pids(doomed.proc.pid)])  # SIGKILL, main and pool: no goodbye
    doomed.proc.wait()
    killed_at = time.monotonic()
    start_worker(4, INCLUDE, UPLOADER_DERIVATIVES="1")
    wait_for(
        lambda: set(_count(log, "done")) == set(labels), timeout=60, interval=0.5, what="every task done elsewhere"
    )
    wait_for(
        lambda: _settled(photos),
        timeout=max(1.0, 60 - (time.monotonic() - killed_at)),
        interval=0.5,
        what="every photo available with its thumbnail and mirrored, both queues empty, within 60 s of the kill",
    )
    for photo in photos:  # nothing doubled
        assert UploadEvent.objects.filter(upload_id=photo.pk, action="available").count() == 1


def test_tasks_done_while_the_endpoint_is_away_are_not_run_again_when_it_returns(
    start_worker,
    task_visibility,
    tmp_path,
    endpoint,  # noqa: F811
):
    """Their acknowledgements cannot reach SQS; the worker deletes the messages when it returns,
    long before a 60 s timeout would hand them out again."""
    environment = task_visibility(60)
    log = tmp_path / "runs.log"
    worker = start_worker(2, INCLUDE, **environment)
    labels = ["a", "b", "c", "d"]
    _send(log, labels, seconds=4)
    wait_for(lambda: len(_count(log, "start")) == 2, what="two tasks running")
    endpoint.stop()
    wait_for(lambda: len(_count(log, "done")) >= 2, timeout=30, what="the running tasks to finish while it is away")
    time.sleep(2)  # the outage goes on a little after their acknowledgements failed: the fault itself
    endpoint.start()
    back_at = time.monotonic()
    wait_for(lambda: set(_count(log, "done")) == set(labels), timeout=60, what="every task done")
    wait_for(
        lambda: queue_depth(settings.CELERY_TASK_DEFAULT_QUEUE) == (0, 0),
        timeout=max(1.0, 30 - (time.monotonic() - back_at)),
        what="the task queue empty within 30 s of the endpoint's return (the timeout is 60 s)",
    )
    assert _count(log, "done") == dict.fromkeys(labels, 1), runs(log)  # none run twice
    assert os.path.exists(log) and "Error in timer" not in worker.log()
