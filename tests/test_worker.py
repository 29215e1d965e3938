"""What only a real `celery worker` shows: celery beat's periodic expiry, a task retried by Celery
until S3 answers, the outbox delivering work only once the transaction that owed it commits, the
event consumer backing off through an SQS blip and resuming on its own, and an event applied slowly
kept invisible until it is done."""

import datetime as dt
import os
import threading
import time

import pytest
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from uploader import aws, services
from uploader.aws import mirror
from uploader.domain import reasons
from uploader.models import OutboxMessage, Upload, UploadEvent
from uploader.services import selectors

from .factories import jpeg_bytes, make_user
from .helpers import MiB, TcpSwitch, purge_queue, put_object, queue_depth, start_upload, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_celery_beat_expires_stale_uploads_aborts_their_parts_and_releases_the_quota(user, start_worker, tmp_path):
    single, _ = start_upload(user, b"x" * 1000)
    large = services.upload_start(
        owner=user, filename="a.zip", content_type="application/zip", size=100 * MiB
    ).upload  # a multipart upload, created in S3
    fresh, _ = start_upload(user, b"y" * 10)
    past = timezone.now() - dt.timedelta(minutes=1)
    Upload.objects.filter(pk__in=[single.pk, large.pk]).update(expires_at=past)
    assert selectors.upload_bytes_held(owner_id=user.pk) == 1000 + 100 * MiB + 10

    # As runlocal runs it: one worker with the beat embedded, here every second.
    start_worker(args=("--beat", "--schedule", str(tmp_path / "beat")), UPLOADER_EXPIRE_EVERY="1")
    stale = Upload.objects.filter(pk__in=[single.pk, large.pk])
    wait_for(lambda: set(stale.values_list("status", flat=True)) == {"expired"}, what="celery beat's expiry")
    for upload in (single, large):
        upload.refresh_from_db()
        assert upload.status_reason == reasons.DEADLINE
        assert UploadEvent.objects.get(upload_id=upload.pk, action="expired").detail == reasons.DEADLINE
    fresh.refresh_from_db()
    assert fresh.status == "pending"  # not past its deadline
    assert selectors.upload_bytes_held(owner_id=user.pk) == 10
    listed = aws.s3().list_multipart_uploads(Bucket=large.bucket, Prefix=large.key)
    assert [u["UploadId"] for u in listed.get("Uploads", [])] == []


@pytest.fixture
def s3_link():
    """A switchable link to the emulator, for a worker's S3 calls only (its SQS stays up)."""
    link = TcpSwitch(os.environ["AWS_ENDPOINT_URL"].removeprefix("http://"))
    yield link
    link.close()


def test_a_check_that_cannot_reach_s3_is_retried_by_celery_until_it_can(user, start_worker, s3_link):
    body = jpeg_bytes()
    upload, put = start_upload(user, body)
    assert put_object(put, body).status_code == 200
    wait_for(lambda: queue_depth(settings.UPLOADER_EVENTS_QUEUE)[0] >= 1, what="S3's event")
    purge_queue(settings.UPLOADER_EVENTS_QUEUE)  # the event is lost: only the client's complete decides
    services.upload_complete(upload=upload)  # owes verify_upload
    s3_link.cut()
    worker = start_worker(AWS_ENDPOINT_URL_S3=s3_link.url)
    wait_for(lambda: "uploader.verify_upload" in worker.log() and "retry: Retry in" in worker.log(), what="a retry")
    upload.refresh_from_db()
    assert upload.status == "processing"  # still undecided, not rejected for an outage
    s3_link.restore()
    wait_for(lambda: Upload.objects.get(pk=upload.pk).status == "available", what="the retried check")
    assert UploadEvent.objects.filter(upload_id=upload.pk, action="available").count() == 1
    assert not OutboxMessage.objects.filter(task="uploader.verify_upload").exists()


def _in_another_connection(call):
    """Run `call()` in a thread with its own database connection (it commits on its own)."""
    result = {}

    def run():
        try:
            result["value"] = call()
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return result["value"]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs a second writer while a transaction is open: SQLite has one write lock (run with DATABASE_URL)",
)
def test_work_owed_by_an_open_transaction_waits_for_its_commit_and_a_rollback_owes_nothing(user, start_worker):
    """The production race eager mode hides: a task that arrives before the row it names exists.
    Work is owed in the transaction that makes the change, so no worker sees it before the commit."""
    worker = start_worker()
    other = make_user("olga", "pw-olga-12345")
    with transaction.atomic():
        upload, _ = start_upload(user, b"x" * 10)  # owes its mirror write, uncommitted
        # Another request commits after ours was written: once the relay has delivered that one, it
        # has passed over our row, which it cannot see yet.
        later, _ = _in_another_connection(lambda: start_upload(other, b"y" * 10))
        wait_for(lambda: mirror.get(later.pk) is not None, what="the other request's mirror write")
        assert mirror.get(upload.pk) is None
    wait_for(lambda: mirror.get(upload.pk) is not None, what="our mirror write once committed")
    assert mirror.get(upload.pk)["status"] == {"S": "pending"}

    with pytest.raises(RuntimeError), transaction.atomic():
        gone, _ = start_upload(user, b"z" * 10)
        raise RuntimeError("the request fails after the change")
    last, _ = _in_another_connection(lambda: start_upload(other, b"w" * 10))
    wait_for(lambda: mirror.get(last.pk) is not None, what="a later mirror write")
    assert mirror.get(gone.pk) is None and not Upload.objects.filter(pk=gone.pk).exists()
    assert not OutboxMessage.objects.exists()
    assert "Traceback" not in worker.log()


def test_after_an_sqs_blip_the_event_consumer_backs_off_and_resumes_on_its_own(user, start_worker):
    """While SQS is unreachable the event consumer logs each failure and waits longer each time
    (1 s, 2 s, ...); once it is back, events are consumed again with no restart. (Celery's task
    consumer on the same link is kombu's, and after such a blip it did not always resume here: a
    task it had received sat undispatched in 1 run of 6. The liveness stall watch is the net.)"""
    link = TcpSwitch(os.environ["AWS_ENDPOINT_URL"].removeprefix("http://"))
    try:
        worker = start_worker(AWS_ENDPOINT_URL_SQS=link.url)  # its events and its Celery broker
        link.cut()
        wait_for(lambda: "event consumer error; retrying in 2s" in worker.log(), what="the consumer to back off")
        link.restore()
        body = jpeg_bytes()
        upload, put = start_upload(user, body)
        assert put_object(put, body).status_code == 200
        wait_for(lambda: Upload.objects.get(pk=upload.pk).status == "available", what="an event consumed again")
        wait_for(lambda: (mirror.get(upload.pk) or {}).get("version") == {"N": "3"}, what="its mirror write")
    finally:
        link.close()
    assert worker.log().count("consuming S3 events") >= 2  # started, then started again after the backoff
    assert list(UploadEvent.objects.filter(upload_id=upload.pk).values_list("action", flat=True).order_by("id")) == [
        "created",
        "available",
    ]


def test_an_event_applied_slowly_stays_invisible_and_is_applied_once(user, start_worker):
    """The consumer keeps extending a message's visibility while it is applied: one held up for
    several timeouts (here, waiting for the upload's row, which this test holds) is never handed
    out a second time, and is applied once when it can be."""
    worker = start_worker(UPLOADER_EVENTS_VISIBILITY_TIMEOUT="2")  # a heartbeat every 2/3 s
    queue = settings.UPLOADER_EVENTS_QUEUE
    body = jpeg_bytes()
    upload, instruction = start_upload(user, body)
    with transaction.atomic():
        # The worker's verdict needs this row (SQLite: the database) until the block ends.
        Upload.objects.select_for_update().get(pk=upload.pk)
        assert put_object(instruction, body).status_code == 200
        wait_for(lambda: queue_depth(queue) == (0, 1), what="the worker to take the event")
        time.sleep(5)  # the fault: the apply is held for 2.5 visibility timeouts
        assert queue_depth(queue) == (0, 1)
    wait_for(lambda: Upload.objects.get(pk=upload.pk).status == "available", what="the verdict")
    wait_for(lambda: queue_depth(queue) == (0, 0), what="the event deleted")
    assert UploadEvent.objects.filter(upload_id=upload.pk, action="available").count() == 1
    assert "is not newer than" not in worker.log()  # no second delivery was applied
