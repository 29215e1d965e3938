"""Derivatives follow the upload: made once it is available (a task of their own, so a slow video
never delays the verdict), made again after a reprocess, deleted with it."""

import dataclasses
import logging
from uuid import UUID

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F

from uploader.aws import objects, storage
from uploader.domain import destinations, media_types, reasons, tasknames
from uploader.inspection import derivatives
from uploader.models import Upload
from uploader.ops import logcontext
from uploader.services import outbox
from uploader.services.common import commit_change, locked

log = logging.getLogger(__name__)
Status = Upload.Status
MediaStatus = Upload.MediaStatus

# Runs that may end without a word (a decoder that crashes the process, a hard time limit): the
# task's message comes back each time, and after this many such runs the file is not tried again.
MAX_ATTEMPTS = 3


def upload_make_derivatives(*, upload_id: UUID | str) -> Upload:
    """Make the thumbnail and read the media figures of an available upload whose derivatives are
    pending; `ready`, or `failed` with the reason. AWS failures propagate (the task retries);
    anything the file itself causes is a recorded `failed`."""
    logcontext.about(upload_id)
    run = _Run()
    try:
        return _make(upload_id, run)
    except SoftTimeLimitExceeded:
        # The soft limit fires once a run, wherever the run is: in the decoders, or on a busy
        # machine in a query or in the record's own transaction (rolled back). Either way the run
        # ends `failed` here, never `pending` for good, and what it stored is dropped.
        return _record(upload_id, None, run.names, run.reason or reasons.MEDIA_TOO_SLOW)


@dataclasses.dataclass
class _Run:
    """What a run has stored and found so far, for the record made after its time limit."""

    names: dict[str, str] = dataclasses.field(default_factory=lambda: {"thumbnail": "", "preview": ""})
    reason: str = ""


def _make(upload_id: UUID | str, run: _Run) -> Upload:
    open_ones = Upload.objects.filter(pk=upload_id, status=Status.AVAILABLE, media_status=MediaStatus.PENDING)
    if not open_ones.update(media_attempts=F("media_attempts") + 1):  # counted before the decoders run
        return Upload.objects.get(pk=upload_id)
    upload = Upload.objects.get(pk=upload_id)
    if upload.media_attempts > MAX_ATTEMPTS:  # each earlier run died without a word
        return _record(upload_id, None, {}, reasons.MEDIA_GAVE_UP % {"attempts": MAX_ATTEMPTS})
    names, made = run.names, None
    try:
        with objects.open_stored(bucket=upload.bucket, key=upload.key, size=upload.stored_size or 0) as source:
            made = derivatives.make(source, kind=media_types.derived_kind(upload.content_type), limits=_limits(upload))
        for field, naming in (("thumbnail", storage.thumbnail_name), ("preview", storage.preview_name)):
            if getattr(made, field):
                names[field] = storage.derivatives().save(naming(upload), ContentFile(getattr(made, field)))
    except derivatives.Refused as exc:
        run.reason = str(exc)
    except SoftTimeLimitExceeded:
        raise  # recorded by upload_make_derivatives
    except Exception:  # an AWS failure (retried by the task): a run that ended, not one that died
        open_ones.update(media_attempts=F("media_attempts") - 1)
        raise
    return _record(upload_id, made, names, run.reason)


def _record(upload_id: UUID | str, made: derivatives.Made | None, names: dict[str, str], reason: str) -> Upload:
    with transaction.atomic():
        upload = locked(upload_id)
        if upload.status != Status.AVAILABLE or upload.media_status != MediaStatus.PENDING:
            if upload.status in Status.NO_OBJECT:  # gone meanwhile: so is what was just made
                _drop(names)
            return upload
        if made is None:
            _drop(names)  # stored before the run was stopped
            upload.media_status, upload.media_reason = MediaStatus.FAILED, reason
            log.info("derivatives of %s failed: %s", upload.pk, reason)
        else:
            upload.media_status, upload.media_reason = MediaStatus.READY, ""
            upload.thumbnail, upload.preview_image = names["thumbnail"], names["preview"]
            upload.duration, upload.codec, upload.page_count = made.duration, made.codec, made.page_count
            upload.preview_text, upload.preview_listing = made.text, made.listing
            if made.width and not upload.width:
                upload.width, upload.height = made.width, made.height
        upload.touch()
        commit_change(upload, action=f"media_{upload.media_status}", detail=reason)
    return upload


def _drop(names: dict[str, str]) -> None:
    """Owe the removal of what a run stored and its record will not name."""
    for name in filter(None, names.values()):
        outbox.owe(tasknames.DROP_DERIVATIVE, name)


def upload_drop_derivative(*, name: str) -> None:
    """Delete one derivative (its upload lost its object, or was deleted while it was made)."""
    storage.derivatives().delete(name)


def _limits(upload: Upload) -> derivatives.Limits:
    """The settings' limits, with the thumbnail size of the upload's destination."""
    thumbnail = destinations.lookup(upload.destination).thumbnail_size
    return dataclasses.replace(derivatives.Limits.from_settings(), thumbnail=thumbnail)
