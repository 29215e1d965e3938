"""Faults injected into the real pipeline: duplicate and reordered events, poison messages, a worker
killed mid-message, DynamoDB or SQS or S3 down, drift repaired by reconcile."""

import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from uploader import aws, services
from uploader.aws import localaws, mirror
from uploader.models import OutboxMessage, Upload, UploadEvent

from .factories import jpeg_bytes, s3_event_body
from .helpers import api_start, purge_queue, put_object, queue_depth, start_upload, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _start(owner, body=None, name="photo.jpg"):
    body = body or jpeg_bytes()
    return (*start_upload(owner, body, name=name), body)


def _status(upload):
    upload.refresh_from_db()
    return upload.status


@pytest.fixture
def queue_timing():
    """Short visibility and few receives on the event queue for this test; restored after."""
    sqs, url = aws.sqs(), aws.queue_url(settings.UPLOADER_EVENTS_QUEUE)
    before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"])["Attributes"]

    def set_timing(visibility, max_receives=None):
        attributes = {"VisibilityTimeout": str(visibility)}
        if max_receives:
            redrive = json.loads(before["RedrivePolicy"])
            attributes["RedrivePolicy"] = json.dumps({**redrive, "maxReceiveCount": str(max_receives)})
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)

    yield set_timing
    sqs.set_queue_attributes(QueueUrl=url, Attributes=before)


def test_the_same_event_three_times_concurrently_gives_one_row_one_item_one_audit_entry(user, start_worker):
    purge_queue(settings.UPLOADER_EVENTS_QUEUE)
    upload, instruction, body = _start(user)
    put_object(instruction, body)
    queue = aws.queue_url(settings.UPLOADER_EVENTS_QUEUE)
    wait_for(lambda: queue_depth(settings.UPLOADER_EVENTS_QUEUE)[0] >= 1, what="the S3 event")
    [message] = aws.sqs().receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    aws.sqs().delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    for _ in range(3):
        aws.sqs().send_message(QueueUrl=queue, MessageBody=message["Body"])
    # Two workers, each applying a batch's messages side by side: the copies race for the row.
    workers = [start_worker(), start_worker()]
    wait_for(lambda: queue_depth(settings.UPLOADER_EVENTS_QUEUE) == (0, 0), what="the copies to be applied")
    wait_for(lambda: (mirror.get(upload.pk) or {}).get("version") == {"N": "3"}, what="the mirror write")
    assert Upload.objects.filter(key=upload.key).count() == 1
    upload.refresh_from_db()
    assert (upload.status, upload.version) == ("available", 3)
    assert UploadEvent.objects.filter(upload_id=upload.pk, action="available").count() == 1
    assert not any("Traceback" in worker.log() for worker in workers)


def test_an_older_overwrite_after_a_newer_one_is_ignored_and_no_sequencer_falls_back_to_head(user, drain):
    upload, instruction, body = _start(user)
    put_object(instruction, body)
    drain(lambda: _status(upload) == "available")
    version = upload.version
    older = s3_event_body(bucket=upload.bucket, key=upload.key, sequencer="00000001", size=1)
    services.upload_record_event(event=_parse(older))
    # A delete without a sequencer: the object is still there (HEAD says so), so it is stale.
    unsequenced = s3_event_body(bucket=upload.bucket, key=upload.key, name="ObjectRemoved:Delete", sequencer="")
    services.upload_record_event(event=_parse(unsequenced))
    upload.refresh_from_db()
    assert (upload.status, upload.version) == ("available", version)


def _parse(body):
    from uploader.domain.events import parse_message

    [event] = parse_message(body)
    return event


def test_a_poison_message_ends_in_the_dead_letter_queue_while_others_flow(user, start_worker, queue_timing):
    purge_queue(settings.UPLOADER_EVENTS_QUEUE)
    purge_queue(settings.UPLOADER_EVENTS_DLQ)
    queue_timing(visibility=1, max_receives=2)
    # The worker receives with its own visibility timeout (30 s by default, each failure then
    # waited that long before the next receive): short here, so the redrive comes in seconds.
    start_worker(UPLOADER_EVENTS_VISIBILITY_TIMEOUT="2")
    # A well-formed event that fails every time it is applied: its row names a bucket S3 refuses.
    stuck, _, _ = _start(user, name="stuck.jpg")
    Upload.objects.filter(pk=stuck.pk).update(bucket="no:such:bucket")
    poison = s3_event_body(bucket="no:such:bucket", key=stuck.key)
    aws.sqs().send_message(QueueUrl=aws.queue_url(settings.UPLOADER_EVENTS_QUEUE), MessageBody=poison)
    upload, instruction, body = _start(user)
    put_object(instruction, body)
    wait_for(lambda: _status(upload) == "available", what="the good upload, not held up")
    # Two receives, each failing, then the redrive.
    wait_for(lambda: queue_depth(settings.UPLOADER_EVENTS_DLQ)[0] == 1, what="the poison message redriven")
    wait_for(lambda: queue_depth(settings.UPLOADER_EVENTS_QUEUE) == (0, 0), what="nothing else left behind")
    assert _status(stuck) == "pending"

    from io import StringIO

    out = StringIO()
    call_command("dead_letters", stdout=out)
    assert "1 message(s) in the dead-letter queue" in out.getvalue() and "received 3x" in out.getvalue()
    Upload.objects.filter(pk=stuck.pk).update(bucket=upload.bucket)  # "fixed": the event names no row now
    out = StringIO()
    call_command("dead_letters", "--redrive", stdout=out)
    assert "1 message(s) sent back" in out.getvalue()
    # An unknown key: logged, dropped.
    wait_for(lambda: queue_depth(settings.UPLOADER_EVENTS_QUEUE) == (0, 0), what="the redriven message")
    assert queue_depth(settings.UPLOADER_EVENTS_DLQ) == (0, 0)


def test_a_worker_killed_mid_message_leaves_it_to_be_delivered_again(user, start_worker):
    purge_queue(settings.UPLOADER_EVENTS_QUEUE)
    visibility = {"UPLOADER_EVENTS_VISIBILITY_TIMEOUT": "3"}  # the workers' receives: back 3 s after a crash
    upload, instruction, body = _start(user)
    first = start_worker(**visibility)
    with transaction.atomic():
        # Hold the row: the worker receives the event and blocks applying it.
        Upload.objects.select_for_update().get(pk=upload.pk)
        put_object(instruction, body)
        wait_for(lambda: queue_depth(settings.UPLOADER_EVENTS_QUEUE)[1] == 1, what="the worker to take the event")
        first.proc.kill()  # SIGKILL: no goodbye, no delete
        first.proc.wait()
    assert _status(upload) == "pending"
    start_worker(**visibility)
    wait_for(lambda: _status(upload) == "available", what="redelivery")
    assert UploadEvent.objects.filter(upload_id=upload.pk, action="available").count() == 1
    wait_for(lambda: queue_depth(settings.UPLOADER_EVENTS_QUEUE) == (0, 0), what="the queue to drain")


def test_with_dynamodb_down_uploads_still_become_available_and_reconcile_repairs(user, start_worker):
    dead = f"http://127.0.0.1:{localaws.free_port()}"
    worker = start_worker(AWS_ENDPOINT_URL_DYNAMODB=dead)
    upload, instruction, body = _start(user)  # its first mirror task fails in the worker too
    put_object(instruction, body)
    wait_for(lambda: _status(upload) == "available", what="the upload")
    wait_for(
        lambda: "outbox: uploader.mirror_upload" in worker.log() and "retrying in" in worker.log(),
        what="the mirror write to be retried with backoff",
    )
    assert mirror.get(upload.pk) is None
    worker.stop()
    assert OutboxMessage.objects.filter(task="uploader.mirror_upload", attempts__gte=1).exists()  # still owed

    from io import StringIO

    out = StringIO()
    call_command("reconcile", "--dry-run", stdout=out)
    assert f"mirror_behind                {upload.pk}" in out.getvalue()
    assert mirror.get(upload.pk) is None  # a dry run changes nothing
    call_command("reconcile", stdout=StringIO())
    assert mirror.get(upload.pk)["version"] == {"N": str(upload.version)}


def test_reconcile_repairs_objects_without_rows_rows_without_objects_and_stray_items(user, start_worker):
    upload, instruction, body = _start(user)
    worker = start_worker()
    put_object(instruction, body)
    wait_for(lambda: _status(upload) == "available", what="the worker's verdict")
    worker.stop()  # the drift below is what a lost or unprocessed event leaves: nobody applies it
    purge_queue(settings.UPLOADER_EVENTS_QUEUE)
    s3, bucket = aws.s3(), settings.UPLOADER_BUCKET
    s3.put_object(Bucket=bucket, Key="uploads/999/stray/x.jpg", Body=b"stray")  # no row
    gone, gone_put, gone_body = _start(user, name="gone.jpg")
    put_object(gone_put, gone_body)
    services.upload_verify(upload_id=gone.pk)
    s3.delete_object(Bucket=bucket, Key=gone.key)  # row without object (its event never processed)
    aws.dynamodb().put_item(TableName="uploads", Item={"id": {"S": "no-such-upload"}, "version": {"N": "1"}})
    aws.dynamodb().delete_item(TableName="uploads", Key={"id": {"S": str(upload.pk)}})

    from io import StringIO

    out = StringIO()
    call_command("reconcile", "--dry-run", stdout=out)
    report = out.getvalue()
    for expected in (
        "object_without_row           uploads/999/stray/x.jpg",
        f"row_without_object           {gone.pk}",
        f"mirror_behind                {upload.pk}",
        "item_without_row             no-such-upload",
    ):
        assert expected in report, report
    call_command("reconcile", stdout=StringIO())
    out = StringIO()
    call_command("reconcile", "--dry-run", stdout=out)
    assert "0 difference(s) found." in out.getvalue(), out.getvalue()
    assert _status(gone) == "deleted"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="uploads/999/").get("KeyCount") == 0
    assert mirror.get("no-such-upload") is None
    assert mirror.get(upload.pk)["version"] == {"N": str(upload.version)}


def test_reconcile_verifies_an_object_whose_event_was_lost_and_deletes_one_left_by_a_finished_upload(
    user, aws_resources
):
    from io import StringIO

    lost, lost_put, lost_body = _start(user, name="lost.jpg")
    put_object(lost_put, lost_body)
    purge_queue(settings.UPLOADER_EVENTS_QUEUE)  # S3's event never arrives
    late, _late_put, late_body = _start(user, name="late.jpg")
    services.upload_abort(upload=late)
    # Bytes written through a URL handed out before the abort, their event lost as well.
    aws.s3().put_object(Bucket=late.bucket, Key=late.key, Body=late_body, ContentType="image/jpeg")
    purge_queue(settings.UPLOADER_EVENTS_QUEUE)

    out = StringIO()
    call_command("reconcile", "--dry-run", stdout=out)
    report = out.getvalue()
    assert f"unverified_object            {lost.pk}" in report, report
    assert f"object_of_finished_upload    {late.pk}" in report, report
    assert _status(lost) == "pending"  # a dry run changes nothing

    call_command("reconcile", stdout=StringIO())
    assert _status(lost) == "available"
    assert _status(late) == "expired"
    with pytest.raises(aws.s3().exceptions.ClientError):
        aws.s3().head_object(Bucket=late.bucket, Key=late.key)


def test_the_request_path_needs_no_queue_and_what_it_owes_is_delivered_once_a_worker_runs(api, start_worker):
    """Presign and complete write to the database only (the outbox): with SQS and every worker away
    they still answer, and a worker that starts later delivers the mirror write and the check."""
    body = jpeg_bytes()
    response = api.post(
        "/api/v1/uploads/", {"filename": "a.jpg", "content_type": "image/jpeg", "size": len(body)}, format="json"
    )
    assert response.status_code == 201
    started = response.json()
    assert mirror.get(started["id"]) is None  # owed, not written on the request path
    put_object(started["upload"], body)
    assert api.post(f"/api/v1/uploads/{started['id']}/complete/").status_code == 202
    owed = sorted(OutboxMessage.objects.values_list("task", "args"))
    mirror_write, check = ("uploader.mirror_upload", [started["id"]]), ("uploader.verify_upload", [started["id"]])
    assert owed == [mirror_write, mirror_write, check]  # one mirror write per change, then the check
    start_worker()
    wait_for(lambda: Upload.objects.get(pk=started["id"]).status == "available", what="the owed check")
    wait_for(lambda: not OutboxMessage.objects.exists(), what="the outbox to empty")
    upload = Upload.objects.get(pk=started["id"])
    wait_for(lambda: (mirror.get(upload.pk) or {}).get("version") == {"N": str(upload.version)}, what="the mirror")


def test_s3_down_at_a_multipart_presign_is_503_and_nothing_half_created(api, settings, aws_resources):
    settings.AWS_ENDPOINT_URL_S3 = f"http://127.0.0.1:{localaws.free_port()}"
    response = api.post(
        "/api/v1/uploads/",
        {"filename": "a.zip", "content_type": "application/zip", "size": 100 * 1024 * 1024},
        format="json",
    )
    assert response.status_code == 503
    assert "Object storage is unavailable" in response.json()["detail"]
    assert not Upload.objects.exists()


def test_s3_down_at_complete_parts_and_delete_is_503_and_changes_nothing(api, settings, aws_resources):
    body = jpeg_bytes()
    single = api_start(api, size=len(body)).json()
    assert put_object(single["upload"], body).status_code == 200
    big = api_start(api, filename="a.zip", content_type="application/zip", size=100 * 1024 * 1024).json()
    settings.AWS_ENDPOINT_URL_S3 = f"http://127.0.0.1:{localaws.free_port()}"  # S3 stops answering

    for method, path in [
        ("post", f"/api/v1/uploads/{single['id']}/complete/"),
        ("get", f"/api/v1/uploads/{big['id']}/parts/"),
        ("delete", f"/api/v1/uploads/{single['id']}/"),
    ]:
        answer = getattr(api, method)(path)
        assert (answer.status_code, answer.json()["code"]) == (503, "service_unavailable"), (method, path)
        assert "Object storage is unavailable" in answer.json()["detail"]
    assert set(Upload.objects.values_list("status", flat=True)) == {"pending"}
    assert not UploadEvent.objects.exclude(action="created").exists()
