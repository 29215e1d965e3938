"""What the worker does: apply S3 events, verify stored objects, write the DynamoDB mirror."""

import logging

from botocore.exceptions import ClientError
from django.db import transaction

from .. import aws, events, mirror, validation
from ..models import Upload
from .common import commit_change, locked

log = logging.getLogger(__name__)
Status = Upload.Status


def _read_stored(upload):
    """HEAD plus the first bytes of the object, or None when it is not (yet) there."""
    s3 = aws.s3()
    try:
        head = s3.head_object(Bucket=upload.bucket, Key=upload.key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if aws.error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    first = b""
    if head["ContentLength"]:
        end = min(head["ContentLength"], validation.SNIFF_BYTES) - 1
        first = s3.get_object(Bucket=upload.bucket, Key=upload.key, Range=f"bytes=0-{end}")["Body"].read()
    return validation.StoredObject(
        size=head["ContentLength"],
        content_type=head.get("ContentType", ""),
        head=first,
        etag=head.get("ETag", "").strip('"'),
        checksum_sha256=head.get("ChecksumSHA256", ""),
    )


def upload_verify(*, upload_id):
    """Check the stored object against the declaration: `available`, or `rejected` with the reasons
    and the object deleted. Idempotent: an upload already decided is left as it is."""
    upload = Upload.objects.get(pk=upload_id)
    if upload.status not in (Status.PENDING, Status.PROCESSING):
        return upload
    stored = _read_stored(upload)
    if stored is None:
        log.info("verify: %s has no object yet", upload_id)
        return upload
    with transaction.atomic():
        upload = locked(upload_id)
        if upload.status not in (Status.PENDING, Status.PROCESSING):
            return upload
        # Judged against the row as locked: a concurrent multipart complete may have just set the
        # composite checksum.
        reasons = validation.verify_stored(
            declared_type=upload.content_type,
            declared_size=upload.size,
            declared_checksum=upload.checksum_sha256,
            stored=stored,
        )
        if upload.status == Status.PENDING:
            upload.transition(Status.PROCESSING)
        upload.stored_size = stored.size
        upload.etag = stored.etag
        if stored.checksum_sha256 and not upload.checksum_sha256:
            upload.checksum_sha256 = stored.checksum_sha256
        upload.sniffed_type = validation.sniff(stored.head) or ""
        upload.width, upload.height = validation.image_dimensions(stored.head) or (None, None)
        if reasons:
            upload.transition(Status.REJECTED, reason=" ".join(reasons))
            commit_change(upload, action="rejected", detail=upload.status_reason)
        else:
            upload.transition(Status.AVAILABLE)
            commit_change(upload, action="available")
    if reasons:
        log.info("verify: %s rejected: %s", upload_id, upload.status_reason)
        aws.s3().delete_object(Bucket=upload.bucket, Key=upload.key)
    return upload


def upload_record_event(*, event):
    """Apply one S3 object event. Duplicates and events older than the newest applied are no-ops;
    an event for a key we never issued is logged and dropped."""
    upload = Upload.objects.filter(bucket=event.bucket, key=event.key).first()
    if upload is None:
        log.warning("event %s for unknown key %r dropped", event.name, event.key)
        return None
    with transaction.atomic():
        upload = locked(upload.pk)
        if not events.sequencer_newer(event.sequencer, upload.last_sequencer):
            log.info("event %s for %s is not newer than %s: skipped", event.sequencer, upload.pk, upload.last_sequencer)
            return upload
        upload.last_sequencer = event.sequencer or upload.last_sequencer
        if event.removed and not event.sequencer and _read_stored(upload) is not None:
            log.info("delete event without a sequencer for %s, but the object is there: stale", upload.pk)
        elif event.removed and upload.status == Status.AVAILABLE:
            upload.transition(Status.DELETED, reason="The object was removed from the bucket.")
            commit_change(upload, action="deleted", detail=upload.status_reason)
        else:
            upload.save(update_fields=["last_sequencer", "updated_at"])
    if event.created:
        return upload_verify(upload_id=upload.pk)
    return upload


def upload_mirror(*, upload_id):
    """Write the current row to DynamoDB (a no-op if DynamoDB already holds this version)."""
    upload = Upload.objects.get(pk=upload_id)
    return mirror.put(upload)
