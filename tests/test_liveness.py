"""Liveness that an orchestrator can act on: /healthz/pipeline reports the workers, the age of
the work waiting in each queue and in the outbox, and fails past a bound; a worker whose task
consumer has stalled exits by itself (its process manager starts a fresh one)."""

import time
from types import SimpleNamespace

import pytest
import requests

from uploader import aws
from uploader.models import Upload, WorkerHeartbeat
from uploader.worker.liveness import LivenessStep, StallDetector

from .factories import jpeg_bytes, make_user
from .helpers import ApiUser, purge_queue, put_object, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _pipeline(base_url):
    answer = requests.get(f"{base_url}/healthz/pipeline", timeout=10)
    return answer.status_code, answer.json()


def test_the_pipeline_report_follows_the_worker(live_server, start_worker, settings):
    settings.UPLOADER_HEALTH_WORKER_SECONDS = 3
    status, report = _pipeline(live_server.url)
    assert status == 503 and "no worker has reported in 3s" in report["problems"]

    worker = start_worker(UPLOADER_HEARTBEAT_SECONDS="0.5")
    make_user("hana", "pw-hana-12345")
    api = ApiUser(live_server.url, "hana", "pw-hana-12345")
    body = jpeg_bytes()
    started = api.start(size=len(body))
    put_object(started["upload"], body)
    assert api.call("POST", f"/api/v1/uploads/{started['id']}/complete/").status_code == 202
    wait_for(lambda: Upload.objects.get(pk=started["id"]).status == "available", what="the upload")

    def reports_work_done():
        status, report = _pipeline(live_server.url)
        workers = report["workers"]
        return (
            status == 200
            and workers
            and workers[0]["last_task_s_ago"] is not None
            and workers[0]["last_event_s_ago"] is not None
            and report["outbox"]["owed"] == 0  # the relay's next pass may still be due (0.5 s)
            and report
        )

    report = wait_for(reports_work_done, timeout=20, what="a heartbeat after the work, nothing owed")
    assert report["outbox"] == {"owed": 0, "oldest_s": None}
    assert report["queues"][settings.UPLOADER_EVENTS_QUEUE]["oldest_message_age_s"] == 0.0

    worker.stop()
    wait_for(lambda: _pipeline(live_server.url)[0] == 503, timeout=20, what="the report to notice the worker is gone")


def test_work_waiting_past_its_bound_fails_the_report(live_server, start_worker, settings):
    settings.UPLOADER_HEALTH_MAX_AGE_SECONDS = 2
    start_worker(UPLOADER_HEARTBEAT_SECONDS="0.5", UPLOADER_OUTBOX_POLL_SECONDS="3600")  # its relay is stuck
    make_user("hana", "pw-hana-12345")
    ApiUser(live_server.url, "hana", "pw-hana-12345").start(size=100)  # owes a mirror write

    def outbox_late():
        status, report = _pipeline(live_server.url)
        return (
            status == 503 and any(p.startswith("outbox: owed work has waited") for p in report["problems"]) and report
        )

    report = wait_for(outbox_late, timeout=20, what="the owed work to pass its bound")
    assert report["outbox"]["owed"] == 1 and report["outbox"]["oldest_s"] > 2


def test_the_watch_exits_a_worker_whose_task_consumer_takes_nothing(
    transactional_db, aws_resources, settings, monkeypatch
):
    """This process stands in for a worker whose task consumer is wedged (as kombu's outage bug
    leaves it): messages wait in the real task queue, none is taken, none runs."""
    settings.UPLOADER_WORKER_STALL_SECONDS, settings.UPLOADER_HEARTBEAT_SECONDS = 2, 0.3
    # A queue of its own: a worker an earlier test stopped in the middle of a long poll can still
    # take one message from the shared task queue (SQS answers the poll to a closed connection).
    queue = settings.CELERY_TASK_DEFAULT_QUEUE = "uploader-tasks-wedged"
    aws.sqs().create_queue(QueueName=queue)
    purge_queue(queue)
    aws.sqs().send_message(QueueUrl=aws.queue_url(queue), MessageBody="{}")
    exits = []
    monkeypatch.setattr(LivenessStep, "_exit", staticmethod(lambda: exits.append(time.monotonic())))
    step = LivenessStep(SimpleNamespace(hostname="wedged@test"))
    step.start(None)
    try:
        try:
            wait_for(lambda: exits, timeout=20, what="the watch to give up on the worker")
        except AssertionError as timed_out:  # say what the watch last saw of the queue
            seen = WorkerHeartbeat.objects.filter(hostname="wedged@test").values_list("queues", flat=True).first()
            raise AssertionError(f"{timed_out}; its last heartbeat saw {seen}") from None
    finally:
        step.stop(None)
        purge_queue(queue)
    assert WorkerHeartbeat.objects.get(hostname="wedged@test").queues[queue]["visible"] == 1


def test_stall_detection_needs_waiting_messages_no_progress_and_nothing_running():
    detector = StallDetector(stall_after=10)
    assert not detector.observe(now=0, progress_count=0, running=0, visible=3)
    assert not detector.observe(now=9, progress_count=0, running=0, visible=3)
    assert detector.observe(now=10, progress_count=0, running=0, visible=3)  # 10 s waiting, nothing taken
    busy = StallDetector(stall_after=10)
    busy.observe(now=0, progress_count=0, running=1, visible=3)
    assert not busy.observe(now=20, progress_count=0, running=1, visible=3)  # a long task is not a stall
    flowing = StallDetector(stall_after=10)
    for second in range(0, 30, 2):
        assert not flowing.observe(now=second, progress_count=second, running=0, visible=5)
    idle = StallDetector(stall_after=10)
    idle.observe(now=0, progress_count=0, running=0, visible=0)
    assert not idle.observe(now=60, progress_count=0, running=0, visible=0)  # nothing waiting


def test_owed_work_delivered_between_the_count_and_its_age_is_no_error(monkeypatch, aws_resources):
    """The relay may deliver the last owed row after the report counted it and before it reads its
    age (a full run found the 500 this raised): the report then says no age, not a server error."""
    from uploader.models import OutboxMessage
    from uploader.services import outbox
    from uploader.worker import liveness

    OutboxMessage.objects.create(task="mirror", args=["x"])
    real = outbox.oldest_age_seconds

    def delivered_meanwhile():
        OutboxMessage.objects.all().delete()  # what the relay does in between
        return real()

    monkeypatch.setattr(outbox, "oldest_age_seconds", delivered_meanwhile)
    report = liveness.pipeline_report()
    assert report["outbox"] == {"owed": 1, "oldest_s": None}
    assert not any(p.startswith("outbox") for p in report["problems"])
