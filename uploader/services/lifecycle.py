"""What clients do to an upload: start it, get part URLs, complete, abort, delete; and the
periodic expiry of uploads whose bytes never arrived."""

import dataclasses
import datetime as dt
import enum
import logging
import mimetypes
import uuid
from collections.abc import Mapping, Sequence

from botocore.exceptions import ClientError
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from .. import keys, multipart, objects, outbox, reasons, selectors, signing, tasknames, validation
from ..models import Upload
from .common import (
    InvalidParts,
    WrongState,
    commit_change,
    locked,
    storage_errors,
)

log = logging.getLogger(__name__)
Status = Upload.Status
MAX_PARTS_PER_REQUEST = 100
MAX_SINGLE_PUT = 5 * 1024**3  # S3's limit for one PUT


class Method(enum.StrEnum):
    """How the client will send the bytes of a new upload."""

    PUT = "PUT"  # a presigned PUT, or multipart part URLs above UPLOADER_MULTIPART_THRESHOLD
    POST = "POST"  # a presigned POST (a browser form); single uploads only
    LEGACY = "LEGACY"  # the original serverless contract: always one PUT needing no header but Content-Type


@dataclasses.dataclass(frozen=True)
class Started:
    """A new pending upload and how to send its bytes: `instruction` is {"upload": ...} (one
    request) or {"multipart": ...} (part URLs in batches)."""

    upload: Upload
    instruction: dict
    url_expires_at: dt.datetime


def upload_start(
    *,
    owner: User,
    filename: str,
    content_type: str,
    size: int | None,
    checksum_sha256: str = "",
    parts: Sequence[Mapping] = (),
    method: Method = Method.PUT,
    relative_path: str = "",
) -> Started:
    """Create the pending record, then sign what can write only its key, type and size.

    Raises validation.PolicyError before anything is signed or stored, ServiceUnavailable if S3
    cannot be reached for a multipart upload (nothing is kept). Otherwise touches only the
    database and the local signer: the mirror write is owed through the outbox.
    """
    prepared = prepare_start(
        owner=owner,
        filename=filename,
        content_type=content_type,
        size=size,
        checksum_sha256=checksum_sha256,
        parts=parts,
        method=method,
        relative_path=relative_path,
    )
    _record_start(prepared.upload, owner, prepared.reserved)
    return prepared.started()


@dataclasses.dataclass(frozen=True)
class Prepared:
    """An upload checked and signed but not saved yet, and the bytes it will hold of the quota."""

    upload: Upload
    instruction: dict
    reserved: int

    def started(self) -> Started:
        expires = self.upload.created_at + dt.timedelta(seconds=settings.UPLOADER_URL_EXPIRES)
        return Started(self.upload, self.instruction, expires)


def prepare_start(
    *,
    owner: User,
    filename: str,
    content_type: str,
    size: int | None,
    checksum_sha256: str = "",
    parts: Sequence[Mapping] = (),
    method: Method = Method.PUT,
    relative_path: str = "",
) -> Prepared:
    """Everything of a start before its record is saved: the policy, the names, the signing (and
    S3's CreateMultipartUpload for a large file, whose quota is checked first so that S3 is not
    asked for what cannot be kept). Raises what upload_start raises."""
    content_type = validation.normalise_content_type(content_type)
    validation.check_policy(content_type=content_type, size=size)
    validation.check_filename(filename, content_type=content_type)
    relative_path = validation.clean_relative_path(relative_path)
    if method == Method.LEGACY and size is not None and size > MAX_SINGLE_PUT:
        raise validation.PolicyError(
            gettext("A single PUT carries at most %(max)s bytes; start a multipart upload instead.")
            % {"max": MAX_SINGLE_PUT},
            code="too_large",
        )
    # What the upload holds against the quota until the worker has measured the stored object.
    reserved = size if size is not None else validation.unsized_limit()
    upload = _new_upload(owner, filename, content_type, size, relative_path)
    if method != Method.LEGACY and size is not None and size > settings.UPLOADER_MULTIPART_THRESHOLD:
        check_quota(owner, reserved)  # before S3 is asked to create anything
        instruction = _begin_multipart(upload, parts)
    else:
        instruction = _sign_single(upload, method, checksum_sha256)
    return Prepared(upload, instruction, reserved)


def upload_start_legacy(*, owner: User, content_type: str, size: int | None) -> Started:
    """The original serverless design's call: the client names no file, so the object gets a
    random name with the type's usual extension."""
    extension = mimetypes.guess_extension(validation.normalise_content_type(content_type)) or ""
    return upload_start(
        owner=owner, filename=f"{uuid.uuid4()}{extension}", content_type=content_type, size=size, method=Method.LEGACY
    )


def _begin_multipart(upload: Upload, parts: Sequence[Mapping]) -> dict:
    """Create the multipart upload in S3 and sign the parts asked for now."""
    upload.part_size, _count = multipart.plan(upload.size)
    _check_part_requests(upload, parts)  # before S3 is asked for anything
    with storage_errors():
        upload.multipart_upload_id = multipart.create(
            bucket=upload.bucket, key=upload.key, content_type=upload.content_type
        )
    return {
        "multipart": {
            "upload_id": upload.multipart_upload_id,
            "part_size": upload.part_size,
            "part_count": upload.part_count,
            "parts": _sign_parts(upload, parts),
        }
    }


def _sign_single(upload: Upload, method: Method, checksum_sha256: str) -> dict:
    """One presigned request (local: no network call)."""
    if method == Method.POST and upload.size is not None:
        return {
            "upload": signing.presign_post(
                bucket=upload.bucket, key=upload.key, content_type=upload.content_type, size=upload.size
            )
        }
    upload.checksum_sha256 = checksum_sha256
    return {
        "upload": signing.presign_put(
            bucket=upload.bucket,
            key=upload.key,
            content_type=upload.content_type,
            size=upload.size,
            checksum_sha256=checksum_sha256,
            once=method != Method.LEGACY or settings.UPLOADER_LEGACY_SIGN_IF_NONE_MATCH,
        )
    }


def upload_start_unsized(*, owner: User, filename: str, content_type: str, in_parts: bool) -> tuple[Upload, dict]:
    """Start an upload whose size the client does not tell (Uppy's Companion routes): a presigned
    POST that admits 1 to `unsized_limit()` bytes, or a multipart upload whose parts pin neither
    length nor checksum. It holds `unsized_limit()` bytes of the quota until the worker measures
    the object; complete refuses parts beyond that, and the worker checks type, size and quota as
    for any upload. Returns (upload, instruction)."""
    content_type = validation.normalise_content_type(content_type)
    validation.check_policy(content_type=content_type, size=None)
    validation.check_filename(filename, content_type=content_type)
    reserved = validation.unsized_limit()
    check_quota(owner, reserved)  # before S3 is asked to create anything
    upload = _new_upload(owner, filename, content_type, None)
    with storage_errors():
        if in_parts:
            upload.multipart_upload_id = multipart.create(
                bucket=upload.bucket, key=upload.key, content_type=content_type, checksums=False
            )
            instruction = {"multipart": {"upload_id": upload.multipart_upload_id, "key": upload.key}}
        else:
            instruction = {
                "upload": signing.presign_post(
                    bucket=upload.bucket, key=upload.key, content_type=content_type, size=None, max_size=reserved
                )
            }
    _record_start(upload, owner, reserved)
    return upload, instruction


def _new_upload(owner: User, filename: str, content_type: str, size: int | None, relative_path: str = "") -> Upload:
    upload_id = uuid.uuid4()
    now = timezone.now()
    return Upload(
        id=upload_id,
        owner=owner,
        bucket=settings.UPLOADER_BUCKET,
        key=keys.object_key(owner_id=owner.pk, upload_id=upload_id, filename=filename),
        original_filename=keys.display_name(filename),
        relative_path=relative_path,
        content_type=content_type,
        size=size,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.UPLOADER_PENDING_TTL),
    )


def lock_owner(owner: User) -> None:
    """One start at a time per user, inside the caller's transaction. SQLite has no row locks; its
    IMMEDIATE transactions (settings) already take the one write lock at BEGIN, so the query is
    skipped there."""
    if connection.features.has_select_for_update:
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()


def _record_start(upload: Upload, owner: User, reserved: int) -> None:
    """Save the new upload if the quota still has room for `reserved` bytes; otherwise abort what
    S3 was asked to create and raise the PolicyError."""
    try:
        with transaction.atomic():
            lock_owner(owner)
            check_quota(owner, reserved)  # the check that counts: concurrent presigns of this user are serialised
            commit_change(upload, action="created", actor=owner)
    except validation.PolicyError:
        if upload.multipart_upload_id:  # after the lock is released: no network call under it
            with storage_errors():
                multipart.abort(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)
        raise


def check_quota(owner: User, reserved: int, held: int | None = None) -> None:
    """Bytes are reserved at presign and released when an upload expires, is aborted, rejected or
    deleted. `held` is what the owner holds already, when the caller has summed it."""
    quota = settings.UPLOADER_USER_QUOTA
    if not quota:
        return
    if held is None:
        held = selectors.upload_bytes_held(owner_id=owner.pk)
    if held + reserved > quota:
        raise validation.PolicyError(
            gettext("This upload would take you over your quota: %(held)s of %(quota)s bytes are in use.")
            % {"held": held, "quota": quota},
            code="quota_exceeded",
        )


def _check_part_requests(upload: Upload, parts: Sequence[Mapping]) -> None:
    if len(parts) > MAX_PARTS_PER_REQUEST:
        raise InvalidParts(
            gettext("Ask for at most %(max)s parts at a time.") % {"max": MAX_PARTS_PER_REQUEST}, code="too_many_parts"
        )
    numbers = [p["part_number"] for p in parts]
    bad = sorted(n for n in numbers if not 1 <= n <= upload.part_count)
    if bad:
        raise InvalidParts(
            gettext("Part numbers %(bad)s are outside 1..%(count)s.") % {"bad": bad, "count": upload.part_count},
            code="invalid_part_number",
        )
    if len(set(numbers)) != len(numbers):
        raise InvalidParts(gettext("A part number is listed twice."), code="invalid_part_number")


def _sign_parts(upload: Upload, parts: Sequence[Mapping]) -> list[dict]:
    return signing.presign_parts(
        bucket=upload.bucket,
        key=upload.key,
        upload_id=upload.multipart_upload_id,
        parts=[
            (
                p["part_number"],
                multipart.part_length(p["part_number"], size=upload.size, part_size=upload.part_size),
                p["checksum_sha256"],
            )
            for p in parts
        ],
    )


def _require_pending_multipart(upload: Upload) -> None:
    if not upload.is_multipart:
        raise WrongState(gettext("This upload is a single PUT; it has no parts."))
    if upload.status != Status.PENDING:
        raise WrongState(
            gettext("The upload is %(status)s; parts can only be sent while it is pending.") % {"status": upload.status}
        )


def upload_sign_parts(*, upload: Upload, parts: Sequence[Mapping]) -> list[dict]:
    """Fresh part URLs, e.g. to resume or to replace one that expired mid-upload. Each part's
    SHA-256 is part of its signature, so S3 refuses a part whose bytes differ."""
    _require_pending_multipart(upload)
    if upload.size is None:
        raise WrongState(gettext("This upload declared no size; its parts are signed through the Companion routes."))
    _check_part_requests(upload, parts)
    with storage_errors():
        return _sign_parts(upload, parts)


def upload_sign_open_part(*, upload: Upload, part_number: int) -> dict:
    """A part URL for an upload of undeclared size (Uppy's Companion routes). Part numbers are
    bounded by what `unsized_limit()` bytes can hold in S3's smallest parts."""
    _require_pending_multipart(upload)
    if upload.size is not None:
        raise WrongState(gettext("This upload declared its size; ask for part URLs with their checksums."))
    highest = min(multipart.MAX_PARTS, validation.unsized_limit() // multipart.S3_MIN_PART_SIZE + 1)
    if not 1 <= part_number <= highest:
        raise InvalidParts(
            gettext("Part number %(number)s is outside 1..%(count)s.") % {"number": part_number, "count": highest},
            code="invalid_part_number",
        )
    with storage_errors():
        return signing.presign_open_part(
            bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id, part_number=part_number
        )


def upload_parts(*, upload: Upload) -> list[multipart.Part]:
    """The parts S3 already holds: what a resuming client need not send again."""
    _require_pending_multipart(upload)
    with storage_errors():
        return multipart.list_parts(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)


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
