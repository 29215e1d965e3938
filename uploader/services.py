"""Writes. Every change to an Upload goes through here, under a row lock, and queues its mirror
write only once the transaction has committed."""

import datetime as dt
import logging
import uuid

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import aws, events, keys, mirror, signing, validation
from .models import Upload

log = logging.getLogger(__name__)
Status = Upload.Status


class ServiceUnavailable(Exception):
    """A backing AWS service did not answer; nothing was changed."""


class WrongState(Exception):
    """The upload is not in a state that allows this call."""


def _queue_mirror(upload):
    from .tasks import mirror_upload

    upload_id = str(upload.id)
    transaction.on_commit(lambda: mirror_upload.delay(upload_id))


def _locked(upload_id):
    return Upload.objects.select_for_update().get(pk=upload_id)


def upload_start(*, owner, filename, content_type, size, checksum_sha256=""):
    """Create the pending record, then sign a PUT that can write only its key, type and size.

    Raises validation.PolicyError before anything is signed or stored, ServiceUnavailable if S3
    cannot be reached (the record is rolled back).
    """
    content_type = validation.normalise_content_type(content_type)
    validation.check_policy(content_type=content_type, size=size)
    upload_id = uuid.uuid4()
    now = timezone.now()
    try:
        with transaction.atomic():
            upload = Upload.objects.create(
                id=upload_id,
                owner=owner,
                bucket=settings.UPLOADER_BUCKET,
                key=keys.object_key(owner_id=owner.pk, upload_id=upload_id, filename=filename),
                original_filename=keys.display_name(filename),
                content_type=content_type,
                size=size,
                checksum_sha256=checksum_sha256,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=settings.UPLOADER_PENDING_TTL),
            )
            instruction = signing.presign_put(
                bucket=upload.bucket,
                key=upload.key,
                content_type=content_type,
                size=size,
                checksum_sha256=checksum_sha256,
            )
            _queue_mirror(upload)
    except (BotoCoreError, ClientError) as exc:
        raise ServiceUnavailable(f"Object storage is unavailable: {exc.__class__.__name__}") from exc
    url_expires_at = now + dt.timedelta(seconds=settings.UPLOADER_URL_EXPIRES)
    return upload, instruction, url_expires_at


def upload_complete(*, upload):
    """The client says its bytes are in. Verification is queued; safe to call any number of times."""
    if upload.status in (Status.EXPIRED, Status.DELETED):
        raise WrongState(f"The upload is {upload.status}.")
    if upload.status in (Status.PENDING, Status.PROCESSING):
        from .tasks import verify_upload

        upload_id = str(upload.id)
        transaction.on_commit(lambda: verify_upload.delay(upload_id))
    return upload


def upload_abort(*, upload):
    with transaction.atomic():
        upload = _locked(upload.pk)
        if upload.status == Status.EXPIRED:
            return upload
        if upload.status != Status.PENDING:
            raise WrongState(f"Only a pending upload can be aborted; this one is {upload.status}.")
        upload.transition(Status.EXPIRED, reason="Aborted by the client.")
        upload.save()
        _queue_mirror(upload)
    return upload


def upload_delete(*, upload):
    """Delete the object and tombstone the record; the mirror follows."""
    try:
        aws.s3().delete_object(Bucket=upload.bucket, Key=upload.key)
    except (BotoCoreError, ClientError) as exc:
        raise ServiceUnavailable(f"Object storage is unavailable: {exc.__class__.__name__}") from exc
    with transaction.atomic():
        upload = _locked(upload.pk)
        if upload.status != Status.DELETED:
            upload.transition(Status.DELETED)
            upload.save()
            _queue_mirror(upload)
    return upload


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
    reasons = validation.verify_stored(
        declared_type=upload.content_type,
        declared_size=upload.size,
        declared_checksum=upload.checksum_sha256,
        stored=stored,
    )
    with transaction.atomic():
        upload = _locked(upload_id)
        if upload.status not in (Status.PENDING, Status.PROCESSING):
            return upload
        if upload.status == Status.PENDING:
            upload.transition(Status.PROCESSING)
        upload.stored_size = stored.size
        upload.etag = stored.etag
        if stored.checksum_sha256 and not upload.checksum_sha256:
            upload.checksum_sha256 = stored.checksum_sha256
        if reasons:
            upload.transition(Status.REJECTED, reason=" ".join(reasons))
        else:
            upload.transition(Status.AVAILABLE)
        upload.save()
        _queue_mirror(upload)
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
        upload = _locked(upload.pk)
        if not events.sequencer_newer(event.sequencer, upload.last_sequencer):
            log.info("event %s for %s is not newer than %s: skipped", event.sequencer, upload.pk, upload.last_sequencer)
            return upload
        upload.last_sequencer = event.sequencer or upload.last_sequencer
        changed = False
        if event.removed and upload.status == Status.AVAILABLE:
            upload.transition(Status.DELETED, reason="The object was removed from the bucket.")
            changed = True
        upload.save()
        if changed:
            _queue_mirror(upload)
    if event.created:
        return upload_verify(upload_id=upload.pk)
    return upload


def upload_mirror(*, upload_id):
    """Write the current row to DynamoDB (a no-op if DynamoDB already holds this version)."""
    upload = Upload.objects.get(pk=upload_id)
    return mirror.put(upload)
