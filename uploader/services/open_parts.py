"""Uploads of undeclared size sent in parts (Uppy's Companion routes): S3 cannot pin a part's
length in its URL without the length, so what such an upload stores is measured while it is open,
and one holding more than its reservation is aborted and rejected. The bound that holds: the
reservation plus what can be sent in one UPLOADER_OPEN_PARTS_EVERY interval."""

import logging

from botocore.exceptions import BotoCoreError, ClientError
from django.db import transaction

from uploader.aws import multipart
from uploader.domain import reasons, validation
from uploader.models import Upload
from uploader.services.common import commit_change, locked

log = logging.getLogger(__name__)
Status = Upload.Status


def upload_police_open_parts() -> int:
    """ListParts for every open multipart upload of undeclared size; abort and reject those over
    their reservation. Returns how many were. An S3 that cannot answer now is asked next time."""
    limit = validation.unsized_limit()
    stopped = 0
    open_ones = Upload.objects.filter(status=Status.PENDING, size__isnull=True).exclude(multipart_upload_id="")
    for upload in open_ones.only("pk", "bucket", "key", "multipart_upload_id").iterator():
        try:
            parts = multipart.list_parts(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)
        except (BotoCoreError, ClientError) as exc:
            log.warning("could not list the parts of %s: %s", upload.pk, exc)
            continue
        total = sum(part.size for part in parts)
        if total <= limit:
            continue
        log.warning("upload %s holds %s bytes in parts, over its %s: aborted", upload.pk, total, limit)
        multipart.abort(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)
        with transaction.atomic():
            upload = locked(upload.pk)
            if upload.status != Status.PENDING:
                continue
            upload.transition(Status.PROCESSING)
            upload.transition(Status.REJECTED, reason=reasons.PARTS_TOO_LARGE % {"total": total, "max": limit})
            commit_change(upload, action="rejected", detail=upload.status_reason)
        stopped += 1
    return stopped
