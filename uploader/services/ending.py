"""How an upload ends without a verdict: aborted by its owner, expired past its deadline, deleted."""

import datetime as dt
import logging
from uuid import UUID

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from uploader.aws import multipart, objects
from uploader.domain import reasons
from uploader.models import Upload
from uploader.services import selectors
from uploader.services.common import WrongState, commit_change, locked, storage_errors

log = logging.getLogger(__name__)
Status = Upload.Status


def upload_abort(*, upload: Upload) -> Upload:
    """Abort a pending upload (and its multipart upload in S3): status `expired`. Repeatable."""
    with transaction.atomic():
        upload = locked(upload.pk)
        if upload.status == Status.EXPIRED:
            return upload
        if upload.status != Status.PENDING:
            raise WrongState(
                gettext("Only a pending upload can be aborted; this one is %(status)s.") % {"status": upload.status}
            )
        _expire(upload, reasons.ABORTED, actor=upload.owner)
    return upload


def _expire(upload: Upload, reason: str, actor: User | None = None) -> None:
    if upload.is_multipart:
        with storage_errors():
            multipart.abort(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)
    upload.transition(Status.EXPIRED, reason=reason)
    commit_change(upload, action="expired", actor=actor, detail=reason)


def upload_expire_stale(*, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Expire pending uploads past their deadline, aborting their multipart uploads. Returns how
    many were expired. The bucket's lifecycle rule is the safety net behind this."""
    now = now or timezone.now()
    expired = 0
    for upload_id in selectors.upload_stale_pending_ids(now=now, limit=batch):
        with transaction.atomic():
            upload = locked(upload_id)
            if upload.status == Status.PENDING and upload.expires_at < now:
                _expire(upload, reasons.DEADLINE)
                expired += 1
    return expired


def upload_delete(*, upload: Upload, actor: User | None = None) -> Upload:
    """Delete the object and tombstone the record; the mirror follows."""
    with storage_errors():
        if upload.is_multipart and upload.status == Status.PENDING:
            multipart.abort(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)
        objects.delete(bucket=upload.bucket, key=upload.key)
    with transaction.atomic():
        upload = locked(upload.pk)
        if upload.status != Status.DELETED:
            upload.transition(Status.DELETED)
            commit_change(upload, action="deleted", actor=actor or upload.owner)
    return upload


def upload_release(*, upload_id: UUID | str) -> Upload | None:
    """An upload its host object let go (uploader/fields.py): deleted by the system, as its owner
    would; one already deleted or gone is left as it is."""
    upload = Upload.objects.filter(pk=upload_id).exclude(status=Status.DELETED).first()
    return upload_delete(upload=upload) if upload is not None else None
