"""Scanning available uploads again, when the scanner's signatures have changed: a file that was
clean yesterday may carry what today's signatures know."""

import logging
from collections.abc import Iterator
from uuid import UUID

from django.db import transaction

from uploader.domain import reasons
from uploader.inspection import scanning
from uploader.models import Upload
from uploader.services.common import commit_change, locked
from uploader.services.processing import _after_judging, record_scan

log = logging.getLogger(__name__)
Status = Upload.Status


def upload_rescan(*, upload_id: UUID | str) -> Upload:
    """Scan an available upload's object again (it stays available while it is scanned): infected
    now, it is rejected and its object deleted (or quarantined); clean, the scan is recorded.
    Raises scanning.ScannerUnavailable when the scanner cannot answer."""
    upload = Upload.objects.get(pk=upload_id)
    if upload.status != Status.AVAILABLE or upload.stored_size is None:
        return upload
    scan = scanning.scan(bucket=upload.bucket, key=upload.key, size=upload.stored_size)  # before the lock
    with transaction.atomic():
        upload = locked(upload_id)
        if upload.status != Status.AVAILABLE:
            return upload
        record_scan(upload, scan)
        if scan.status != scanning.INFECTED:
            upload.touch()
            commit_change(upload, action="rescanned", detail=scan.scanner)
            return upload
        upload.transition(Status.PROCESSING)
        upload.transition(Status.REJECTED, reason=reasons.INFECTED % {"signature": scan.detail})
        commit_change(upload, action="rejected", detail=upload.status_reason)
    return _after_judging(upload)


def uploads_to_rescan(*, everything: bool = False) -> Iterator[UUID]:
    """The ids of available uploads scanned with other signatures than the scanner's now (or all)."""
    available = Upload.objects.filter(status=Status.AVAILABLE).exclude(scan_status=scanning.OFF)
    if not everything:
        available = available.exclude(scanned_with=scanning.scanner_version())
    return available.order_by("created_at").values_list("pk", flat=True).iterator()
