"""Completing an upload: a single PUT's is a state change; a multipart upload's parts are checked
against the plan (and every pinned SHA-256) before S3 assembles them."""

import logging
from collections.abc import Mapping, Sequence

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


# A part as the client names it: (part_number, etag), or with its SHA-256 (base64) as well.
Claimed = tuple[int, str] | tuple[int, str, str]


def upload_complete(*, upload: Upload, parts: Sequence[Claimed] | None = None) -> Upload:
    """The client says its bytes are in; verification is queued. Safe to call any number of times:
    only the call that moves the upload from `pending` to `processing` queues a check, and a
    single PUT whose object has not arrived queues nothing (its S3 event will).

    For a multipart upload the parts are checked against S3 first: a part list that does not
    match, or parts still missing, is an InvalidParts error and the upload stays resumable; parts
    that can never make the declared size abort the upload and reject it. A client that lists
    every part with its SHA-256 has S3 check them as it assembles them (no ListParts first).
    """
    _require_completable(upload)
    if upload.status != Status.PENDING:
        return upload
    return _complete_multipart(upload, parts) if upload.is_multipart else _complete_single(upload)


def claimed_parts(parts: Sequence[Mapping] | None) -> list[Claimed] | None:
    """The client's list of parts (`part_number`, `etag`, maybe `checksum_sha256`) as
    upload_complete takes it."""
    if parts is None:
        return None
    return [(p["part_number"], p["etag"], p.get("checksum_sha256", "")) for p in parts]


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


def _complete_multipart(upload: Upload, claimed: Sequence[Claimed] | None) -> Upload:
    rejected = None
    with transaction.atomic():
        upload = locked(upload.pk)  # a concurrent complete waits here, then finds it processing
        if upload.status != Status.PENDING:
            _require_completable(upload)
            return upload
        with storage_errors():
            # The client's full list with every SHA-256 is checked by S3 as it assembles the parts;
            # any other list, or one S3 refuses, is checked against ListParts' answer.
            parts = multipart.claimed_in_full(claimed, size=upload.size, part_size=upload.part_size)
            if parts is None or not _assembled(upload, parts, refusal_is_final=False):
                parts = multipart.list_parts(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)
                try:
                    if upload.size is None:
                        parts = multipart.check_open_parts(parts, claimed=claimed, max_size=validation.unsized_limit())
                    else:
                        multipart.check_parts(parts, size=upload.size, part_size=upload.part_size, claimed=claimed)
                except multipart.PartsError as exc:
                    if not exc.fatal:
                        raise InvalidParts(reasons.translate(exc.message), code=exc.code) from None
                    multipart.abort(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)
                    upload.transition(Status.PROCESSING)
                    upload.transition(Status.REJECTED, reason=exc.message)
                    commit_change(upload, action="rejected", detail=exc.message)
                    rejected = exc
                else:
                    _assembled(upload, parts, refusal_is_final=True)
        if rejected is None:
            if all(p.checksum_sha256 for p in parts):
                upload.checksum_sha256 = multipart.composite_checksum([p.checksum_sha256 for p in parts])
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


def _assembled(upload: Upload, parts: Sequence[multipart.Part], *, refusal_is_final: bool) -> bool:
    """CompleteMultipartUpload of `parts`; False if S3 refused them by its own part rules (parts
    of undeclared size meet them here) and the refusal is not final, else InvalidParts."""
    try:
        multipart.complete(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id, parts=parts)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code not in ("EntityTooSmall", "InvalidPart", "InvalidPartOrder"):
            raise
        if not refusal_is_final:
            return False
        raise InvalidParts(
            gettext("The store refused the parts: %(code)s.") % {"code": code}, code="parts_refused"
        ) from None
    return True
