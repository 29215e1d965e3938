"""What the worker does: apply S3 events, verify stored objects, write the DynamoDB mirror."""

import logging
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from uploader.aws import mirror, objects
from uploader.domain import destinations, events, reasons, tasknames, validation
from uploader.domain.reasons import OVER_QUOTA
from uploader.inspection import scanning
from uploader.models import Upload
from uploader.ops import logcontext
from uploader.services import outbox, selectors
from uploader.services.common import commit_change, locked
from uploader.services.review import publish_if_due

log = logging.getLogger(__name__)
Status = Upload.Status
# An object that appears under an upload in one of these states is never kept.
_CLOSED = (Status.EXPIRED, Status.REJECTED, Status.DELETED)


def upload_verify(*, upload_id: UUID | str) -> Upload:
    """Check the stored object against the declaration and the owner's quota: `available`, or
    `rejected` with the reasons and the object deleted. Idempotent: an upload already decided is
    left as it is."""
    upload = Upload.objects.get(pk=upload_id)
    logcontext.about(upload.pk)
    if upload.status not in Status.OPEN:
        publish_if_due(upload)  # a run that stopped between the verdict and the ACL: finished here
        return upload
    stored = objects.read(bucket=upload.bucket, key=upload.key)
    if stored is None:
        log.info("verify: %s has no object yet", upload_id)
        return upload
    scan = _scan(upload, stored, wait=False)  # ScannerUnavailable: the task is tried again later
    with transaction.atomic():
        upload = locked(upload_id)
        if upload.status not in Status.OPEN:
            return upload
        _judge(upload, stored, scan)
    return _after_judging(upload)


def _scan(upload: Upload, stored: validation.StoredObject, *, wait: bool) -> scanning.Scan | None:
    """The malware scan of an object that passed the other checks, before the row lock (it reads
    the whole object); None when those checks fail already. With `wait`, a scanner that cannot
    answer gives None too, and the verdict is owed to a task that tries again; without, it raises
    ScannerUnavailable."""
    if _reasons(upload, stored):
        return None
    try:
        return scanning.scan(bucket=upload.bucket, key=upload.key, size=stored.size)
    except scanning.ScannerUnavailable as exc:
        if not wait:
            raise
        log.warning("scan of %s cannot be made now (%s): the verdict waits", upload.pk, exc)
        return None


def _reasons(upload: Upload, stored: validation.StoredObject) -> list[str]:
    reasons = validation.verify_stored(
        declared_type=upload.content_type,
        declared_size=upload.size,
        declared_checksum=upload.checksum_sha256,
        stored=stored,
        destination=destinations.lookup(upload.destination),
    )
    return reasons + _over_quota(upload, stored.size)


def _judge(upload: Upload, stored: validation.StoredObject, scan: scanning.Scan | None) -> None:
    """Under the row lock: decide `available` or `rejected` from the stored object and its scan.
    Judged against the row as locked: a concurrent multipart complete may have just set the
    composite checksum. With no scan for an object that passes every other check (the scanner
    could not answer), the upload stays `processing` and its verification is owed again."""
    reasons = _reasons(upload, stored)
    if upload.status == Status.PENDING:
        upload.transition(Status.PROCESSING)
    upload.stored_size = stored.size
    upload.etag = stored.etag
    if stored.checksum_sha256 and not upload.checksum_sha256:
        upload.checksum_sha256 = stored.checksum_sha256
    upload.sniffed_type = validation.sniff(stored.head) or ""
    upload.width, upload.height = validation.image_dimensions(stored.head) or (None, None)
    if not reasons and scan is None:
        commit_change(upload, action="awaiting_scan")
        outbox.owe(tasknames.VERIFY, str(upload.pk))
        return
    if scan is not None:
        record_scan(upload, scan)
        reasons += _scan_reasons(scan)
    if reasons:
        upload.transition(Status.REJECTED, reason=" ".join(reasons))
        commit_change(upload, action="rejected", detail=upload.status_reason)
    else:
        upload.transition(Status.AVAILABLE)
        commit_change(upload, action="available")


def record_scan(upload: Upload, scan: scanning.Scan) -> None:
    """Put a scan's result on the upload (saved by the caller's commit_change)."""
    upload.scan_status, upload.scan_detail = scan.status, scan.detail[:255]
    upload.scanned_with, upload.scanned_at = scan.scanner[:255], timezone.now()


def _scan_reasons(scan: scanning.Scan) -> list[str]:
    if scan.status == scanning.INFECTED:
        return [reasons.INFECTED % {"signature": scan.detail}]
    if scan.status == scanning.UNSCANNABLE and settings.UPLOADER_SCAN_UNSCANNABLE != "allow":
        return [reasons.UNSCANNABLE % {"why": scan.detail}]
    return []


def _after_judging(upload: Upload) -> Upload:
    """Once committed: a rejected upload's object goes (an infected one to quarantine, if so set)."""
    if upload.status == Status.AVAILABLE:
        log.info("upload %s available: %s bytes of %s", upload.pk, upload.stored_size, upload.content_type)
        publish_if_due(upload)
    if upload.status == Status.REJECTED:
        log.info("verify: %s rejected: %s", upload.pk, upload.status_reason)
        if upload.scan_status == scanning.INFECTED:
            log.warning("malware in upload %s: %s", upload.pk, upload.scan_detail)
            if settings.UPLOADER_INFECTED_ACTION == "quarantine":
                objects.quarantine(bucket=upload.bucket, key=upload.key)
        objects.delete(bucket=upload.bucket, key=upload.key)
    return upload


def _over_quota(upload: Upload, stored_size: int) -> list[str]:
    """The bytes this object holds may not take its owner over the quota (the quota may have been
    lowered since presign, and a legacy upload declared no size)."""
    quota = settings.UPLOADER_USER_QUOTA
    if not quota:
        return []
    others = selectors.upload_bytes_held(owner_id=upload.owner_id) - upload.held_bytes
    if others + stored_size <= quota:
        return []
    return [OVER_QUOTA % {"size": stored_size, "held": others, "quota": quota}]


def upload_record_event(*, event: events.ObjectEvent) -> Upload | None:
    """Apply one S3 object event. Duplicates and events older than the newest applied are no-ops;
    an event for a key we never issued is logged and dropped. One handler per kind of event, each
    making its network calls before the row lock and its change in one transaction."""
    upload = Upload.objects.filter(bucket=event.bucket, key=event.key).first()
    if upload is None:
        log.warning("event %s for unknown key %r dropped", event.name, event.key)
        return None
    logcontext.about(upload.pk)
    if event.created:
        return _record_creation(upload, event)
    if event.removed:
        return _record_removal(upload, event)
    return upload


def _record_creation(upload: Upload, event: events.ObjectEvent) -> Upload:
    """An object was written. A new one is judged in the transaction that records the event (one
    row lock, one commit); a changed `available` one is checked again; one written under an
    expired, rejected or deleted upload is deleted."""
    stored = scan = None
    if upload.status not in _CLOSED:
        stored = objects.read(bucket=upload.bucket, key=upload.key)
        if stored is not None and (upload.status in Status.OPEN or _object_changed(upload, event, stored)):
            scan = _scan(upload, stored, wait=True)
    with transaction.atomic():
        upload, newer = _sequenced(upload.pk, event)
        if not newer:
            return upload
        if stored is not None and upload.status == Status.AVAILABLE and _object_changed(upload, event, stored):
            upload.transition(Status.PROCESSING, reason=reasons.OBJECT_REPLACED)
            commit_change(upload, action="changed", detail=upload.status_reason)
        judged = stored is not None and upload.status in Status.OPEN
        if stored is not None and judged:
            _judge(upload, stored, scan)
        else:
            _note_sequence(upload)
    if judged:
        return _after_judging(upload)
    if upload.status in _CLOSED:
        log.warning("object written under %s upload %s: deleted", upload.status, upload.pk)
        objects.delete(bucket=upload.bucket, key=upload.key)
    return upload


def _record_removal(upload: Upload, event: events.ObjectEvent) -> Upload:
    """An object was deleted: an `available` upload follows it to `deleted`. A delete event
    without a sequencer cannot be ordered, so whether the object is still there tells a stale one
    from a real delete."""
    still_there = not event.sequencer and objects.head(bucket=upload.bucket, key=upload.key) is not None
    with transaction.atomic():
        upload, newer = _sequenced(upload.pk, event)
        if not newer:
            return upload
        if not still_there and upload.status == Status.AVAILABLE:
            upload.transition(Status.DELETED, reason=reasons.OBJECT_REMOVED)
            commit_change(upload, action="deleted", detail=upload.status_reason)
            return upload
        if still_there:
            log.info("delete event without a sequencer for %s, but the object is there: stale", upload.pk)
        _note_sequence(upload)
    return upload


def _sequenced(upload_id: UUID | str, event: events.ObjectEvent) -> tuple[Upload, bool]:
    """Under the row lock: the upload, and whether the event is newer than the newest applied
    (then it is noted on the row, to be saved by the caller)."""
    upload = locked(upload_id)
    if not events.sequencer_newer(event.sequencer, upload.last_sequencer):
        log.info("event %s for %s is not newer than %s: skipped", event.sequencer, upload.pk, upload.last_sequencer)
        return upload, False
    upload.last_sequencer = event.sequencer or upload.last_sequencer
    if event.created and event.time and upload.landed_at is None:
        upload.landed_at = event.time  # the start of its PUT -> available lag (metrics)
    return upload, True


def _note_sequence(upload: Upload) -> None:
    upload.save(update_fields=["last_sequencer", "landed_at", "updated_at"])


def _object_changed(upload: Upload, event: events.ObjectEvent, stored: validation.StoredObject) -> bool:
    """Whether the object is no longer the one verified: by the event's ETag, else by the one just
    read (no second HEAD, and none under the row lock)."""
    etag = event.etag or stored.etag
    return bool(etag) and etag != upload.etag


def upload_mirror(*, upload_id: UUID | str) -> bool:
    """Write the current row to DynamoDB (a no-op if DynamoDB already holds this version)."""
    upload = Upload.objects.get(pk=upload_id)
    return mirror.put(upload)


def upload_mark_object_missing(*, upload_id: UUID | str, detail: str = "") -> bool:
    """The object of an available upload is gone from the bucket (found by reconcile): the record
    follows it to `deleted`. Returns whether it changed."""
    with transaction.atomic():
        upload = locked(upload_id)
        if upload.status != Status.AVAILABLE:
            return False
        upload.transition(Status.DELETED, reason=reasons.OBJECT_MISSING)
        commit_change(upload, action="deleted", detail=detail)
    return True
