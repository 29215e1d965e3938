"""Completing an upload: a single PUT's is a state change; a multipart upload's parts are checked
against the plan (and every pinned SHA-256) before S3 assembles them."""

import logging
from collections.abc import Sequence

from botocore.exceptions import ClientError
from django.db import transaction
from django.utils.translation import gettext

from uploader.aws import multipart, objects
from uploader.domain import reasons, tasknames, validation
from uploader.models import Upload
from uploader.services import outbox
from uploader.services.common import InvalidParts, WrongState, commit_change, locked, storage_errors

log = logging.getLogger(__name__)
Status = Upload.Status


def upload_complete(*, upload: Upload, parts: Sequence[tuple[int, str]] | None = None) -> Upload:
    """The client says its bytes are in; verification is queued. Safe to call any number of times:
    only the call that moves the upload from `pending` to `processing` queues a check, and a
    single PUT whose object has not arrived queues nothing (its S3 event will).

    For a multipart upload the parts are checked against S3's own list first: a part list that
    does not match, or parts still missing, is an InvalidParts error and the upload stays
    resumable; parts that can never make the declared size abort the upload and reject it.
    """
    _require_completable(upload)
    if upload.status != Status.PENDING:
        return upload
    return _complete_multipart(upload, parts) if upload.is_multipart else _complete_single(upload)


def _complete_single(upload: Upload) -> Upload:
    with storage_errors():
        if objects.head(bucket=upload.bucket, key=upload.key) is None:
            return upload
    with transaction.atomic():
        upload = locked(upload.pk)
        if upload.status == Status.PENDING:
            upload.transition(Status.PROCESSING)
            commit_change(upload, action="completed", actor=upload.owner)
            outbox.owe(tasknames.VERIFY, str(upload.pk))  # owed by the call that moved it, and only that one
    return upload


def _require_completable(upload: Upload) -> None:
    if upload.status in (Status.EXPIRED, Status.DELETED):
        raise WrongState(gettext("The upload is %(status)s.") % {"status": upload.status})
    if upload.status == Status.REJECTED:
        raise WrongState(
            gettext("The upload was rejected: %(reason)s") % {"reason": reasons.translate(upload.status_reason)}
        )


def _complete_multipart(upload: Upload, claimed: Sequence[tuple[int, str]] | None) -> Upload:
    rejected = None
    with transaction.atomic():
        upload = locked(upload.pk)  # a concurrent complete waits here, then finds it processing
        if upload.status != Status.PENDING:
            _require_completable(upload)
            return upload
        with storage_errors():
            stored = multipart.list_parts(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)
            try:
                if upload.size is None:
                    stored = multipart.check_open_parts(stored, claimed=claimed, max_size=validation.unsized_limit())
                else:
                    multipart.check_parts(stored, size=upload.size, part_size=upload.part_size, claimed=claimed)
            except multipart.PartsError as exc:
                if not exc.fatal:
                    raise InvalidParts(reasons.translate(exc.message), code=exc.code) from None
                multipart.abort(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)
                upload.transition(Status.PROCESSING)
                upload.transition(Status.REJECTED, reason=exc.message)
                commit_change(upload, action="rejected", detail=exc.message)
                rejected = exc
            else:
                try:
                    multipart.complete(
                        bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id, parts=stored
                    )
                except ClientError as exc:  # S3's own part rules (parts of undeclared size meet them here)
                    if exc.response["Error"]["Code"] not in ("EntityTooSmall", "InvalidPart", "InvalidPartOrder"):
                        raise
                    raise InvalidParts(
                        gettext("The store refused the parts: %(code)s.") % {"code": exc.response["Error"]["Code"]},
                        code="parts_refused",
                    ) from None
                if all(p.checksum_sha256 for p in stored):
                    upload.checksum_sha256 = multipart.composite_checksum([p.checksum_sha256 for p in stored])
                upload.transition(Status.PROCESSING)
                commit_change(upload, action="completed", actor=upload.owner)
                outbox.owe(tasknames.VERIFY, str(upload.pk))
    if rejected is not None:
        log.info("multipart %s rejected: %s", upload.pk, rejected.message)
        raise InvalidParts(
            gettext("The upload was aborted and rejected: %(reason)s")
            % {"reason": reasons.translate(rejected.message)},
            code=rejected.code,
        )
    return upload
