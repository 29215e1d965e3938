"""The event pipeline against the emulator: real S3 notifications through real SQS to a real
`celery worker` (its event bootstep, its outbox relay, tasks through the broker)."""

import json

import pytest
from django.conf import settings

from uploader import aws, services
from uploader.aws import mirror
from uploader.models import Upload

from .factories import jpeg_bytes, s3_event_body, webm_bytes
from .helpers import purge_queue, put_object, queue_depth, start_upload

pytestmark = pytest.mark.django_db(transaction=True)


def _status(upload):
    upload.refresh_from_db()
    return upload.status


def _mirrored(upload):
    """The mirror's (status, version), or None before its first write."""
    item = mirror.get(upload.id)
    return item and (item["status"]["S"], int(item["version"]["N"]))


def _object_exists(upload):
    listed = aws.s3().list_objects_v2(Bucket=upload.bucket, Prefix=upload.key)
    return listed.get("KeyCount", 0) > 0


def _send(body):
    aws.sqs().send_message(QueueUrl=aws.queue_url(settings.UPLOADER_EVENTS_QUEUE), MessageBody=body)


def test_a_real_jpeg_becomes_available_and_is_mirrored(user, drain):
    body = jpeg_bytes()
    upload, instruction = start_upload(user, body, name="a b+c.jpg")
    assert put_object(instruction, body).status_code == 200
    drain(lambda: _status(upload) == "available")
    assert upload.stored_size == len(body) and upload.etag and upload.last_sequencer
    drain(lambda: _mirrored(upload) == ("available", upload.version))  # written right after the commit
    item = mirror.get(upload.id)
    assert item["status"] == {"S": "available"}
    assert item["version"] == {"N": str(upload.version)}
    assert item["owner_id"] == {"S": str(user.pk)}


@pytest.mark.parametrize(
    "name, declared, verdict",
    [
        ("talk.webm", "video/webm", "available"),
        ("voice.webm", "audio/webm", "available"),
        ("talk.mp4", "video/mp4", "rejected"),  # a WebM declared as MP4
    ],
)
def test_a_webm_recording_is_judged_by_its_content(user, drain, name, declared, verdict):
    body = webm_bytes()
    upload, instruction = start_upload(user, body, name=name, content_type=declared)
    assert put_object(instruction, body).status_code == 200
    drain(lambda: _status(upload) == verdict)
    assert upload.sniffed_type == "video/webm"


def test_a_file_lying_about_its_type_is_rejected_and_removed(user, drain):
    body = b"<html><script>alert(1)</script></html>"
    upload, instruction = start_upload(user, body, name="cat.jpg")
    assert put_object(instruction, body).status_code == 200
    drain(lambda: _status(upload) == "rejected")
    assert "not image/jpeg" in upload.status_reason
    drain(lambda: not _object_exists(upload))  # deleted right after the verdict's commit
    drain(lambda: _mirrored(upload) == ("rejected", upload.version))


def test_duplicate_events_change_nothing(user, drain):
    body = jpeg_bytes()
    upload, instruction = start_upload(user, body)
    put_object(instruction, body)
    drain(lambda: _status(upload) == "available")
    version = upload.version
    event = s3_event_body(bucket=upload.bucket, key=upload.key, size=len(body), sequencer=upload.last_sequencer)
    for _ in range(3):
        _send(event)
    drain(lambda: queue_depth(settings.UPLOADER_EVENTS_QUEUE) == (0, 0))
    upload.refresh_from_db()
    assert (upload.status, upload.version) == ("available", version)
    assert mirror.get(upload.id)["version"] == {"N": str(version)}


def test_complete_and_event_in_either_order_give_one_available_record(user, drain):
    body = jpeg_bytes()
    first, first_put = start_upload(user, body)
    second, second_put = start_upload(user, body)
    put_object(first_put, body)
    put_object(second_put, body)
    services.upload_complete(upload=first)  # owes a check the worker may run before or after the event
    drain(lambda: _status(first) == "available" and _status(second) == "available")
    services.upload_complete(upload=second)  # after the event: nothing left to check
    for upload in (first, second):
        upload.refresh_from_db()
        assert (upload.status, upload.version) == ("available", 3)


def test_an_older_event_never_undoes_a_newer_one(user, drain):
    body = jpeg_bytes()
    upload, instruction = start_upload(user, body)
    put_object(instruction, body)
    drain(lambda: _status(upload) == "available")
    # A delete that S3 sequenced before the create arrives late: it must not delete the upload.
    _send(s3_event_body(bucket=upload.bucket, key=upload.key, name="ObjectRemoved:Delete", sequencer="0001"))
    drain(lambda: queue_depth(settings.UPLOADER_EVENTS_QUEUE) == (0, 0))
    assert _status(upload) == "available"
    # A newer delete does.
    newer = "F" * (len(upload.last_sequencer) + 1)
    _send(s3_event_body(bucket=upload.bucket, key=upload.key, name="ObjectRemoved:Delete", sequencer=newer))
    drain(lambda: _status(upload) == "deleted")


def test_test_events_unknown_keys_and_poison_change_nothing(user, drain):
    purge_queue(settings.UPLOADER_EVENTS_DLQ)
    body = jpeg_bytes()
    upload, _ = start_upload(user, body)
    _send(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": upload.bucket}))
    _send(s3_event_body(bucket=upload.bucket, key="uploads/999/nobody/x.jpg"))
    _send("this is not json")
    drain(lambda: queue_depth(settings.UPLOADER_EVENTS_QUEUE) == (0, 0))
    upload.refresh_from_db()
    assert (upload.status, upload.version) == ("pending", 1)
    dlq = aws.queue_url(settings.UPLOADER_EVENTS_DLQ)
    dead = aws.sqs().receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in dead] == ["this is not json"]
    aws.sqs().delete_message(
        QueueUrl=dlq, ReceiptHandle=dead[0]["ReceiptHandle"]
    )  # read and gone: no later test sees it
    # ... and the consumer still works afterwards.
    assert put_object(start_upload(user, body)[1], body).status_code == 200
    drain(lambda: Upload.objects.filter(status="available").count() == 1)


def test_delete_removes_object_and_tombstones_record_and_mirror(user, drain):
    body = jpeg_bytes()
    upload, instruction = start_upload(user, body)
    put_object(instruction, body)
    drain(lambda: _status(upload) == "available")
    services.upload_delete(upload=upload)
    assert _status(upload) == "deleted"
    assert not _object_exists(upload)
    drain(lambda: _mirrored(upload) == ("deleted", upload.version))  # written by the worker's relay
    drain(lambda: queue_depth(settings.UPLOADER_EVENTS_QUEUE) == (0, 0))  # its ObjectRemoved event is a no-op
    assert _status(upload) == "deleted"


def test_the_mirror_never_moves_backwards(user, aws_resources):
    upload, _ = start_upload(user, b"x")
    upload.version = 5
    assert mirror.put(upload) is True
    upload.version = 4
    upload.status = "pending"
    assert mirror.put(upload) is False
    assert mirror.get(upload.id)["version"] == {"N": "5"}
