"""Starting an upload: the policy, the names, its bytes reserved of the owner's quota, and the
signed request (one PUT or POST, or a multipart upload with its first part URLs).

Why it is long: four ways to start (signed PUT, POST, legacy, undeclared size) share one policy
check and one record; split, the quota rule would be in four places."""

import dataclasses
import datetime as dt
import enum
import logging
import mimetypes
import uuid
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from uploader.aws import multipart, signing
from uploader.domain import destinations, keys, validation
from uploader.models import Upload
from uploader.services import selectors, usage
from uploader.services.common import InvalidParts, stage_change, storage_errors
from uploader.services.parts import check_part_requests, sign_parts

log = logging.getLogger(__name__)
Status = Upload.Status


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
    part_size: int | None = None,
    method: Method = Method.PUT,
    relative_path: str = "",
    destination: str = "",
    metadata: Mapping | None = None,
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
        part_size=part_size,
        method=method,
        relative_path=relative_path,
        destination=destination,
        metadata=metadata,
    )
    _record_start(prepared.upload, owner)
    return prepared.started()


@dataclasses.dataclass(frozen=True)
class Prepared:
    """An upload checked and signed but not saved yet (its `held_bytes`: what it will hold of the
    quota)."""

    upload: Upload
    instruction: dict

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
    part_size: int | None = None,
    method: Method = Method.PUT,
    relative_path: str = "",
    destination: str = "",
    metadata: Mapping | None = None,
) -> Prepared:
    """Everything of a start before its record is saved: the policy, the names, the signing (and
    S3's CreateMultipartUpload for a large file, whose quota is checked first so that S3 is not
    asked for what cannot be kept). Raises what upload_start raises."""
    checked = _checked(owner, destination, filename, content_type, size, metadata, relative_path)
    rules, content_type, metadata, relative_path = checked
    if method == Method.LEGACY and size is not None and size > MAX_SINGLE_PUT:
        raise validation.PolicyError(
            gettext("A single PUT carries at most %(max)s bytes; start a multipart upload instead.")
            % {"max": MAX_SINGLE_PUT},
            code="too_large",
        )
    upload = _new_upload(owner, filename, content_type, size, rules, relative_path, metadata)
    if method != Method.LEGACY and size is not None and size > settings.UPLOADER_MULTIPART_THRESHOLD:
        check_quota(owner, upload.held_bytes)  # before S3 is asked to create anything
        instruction = _begin_multipart(upload, parts, part_size)
    else:
        instruction = _sign_single(upload, method, checksum_sha256)
    return Prepared(upload, instruction)


def upload_start_legacy(*, owner: User, content_type: str, size: int | None) -> Started:
    """The original serverless design's call: the client names no file, so the object gets a
    random name with the type's usual extension."""
    extension = mimetypes.guess_extension(validation.normalise_content_type(content_type)) or ""
    return upload_start(
        owner=owner, filename=f"{uuid.uuid4()}{extension}", content_type=content_type, size=size, method=Method.LEGACY
    )


def _begin_multipart(upload: Upload, parts: Sequence[Mapping], part_size: int | None) -> dict:
    """Create the multipart upload in S3 and sign the parts asked for now (a client that chose its
    part size sends its first parts' checksums with the start: one request fewer)."""
    try:
        upload.part_size, _count = multipart.plan(upload.size, part_size)
    except ValueError:
        raise InvalidParts(
            gettext("A part size is %(min)s to %(max)s bytes, and a file has at most %(parts)s parts.")
            % {"min": multipart.MIN_PART_SIZE, "max": multipart.MAX_PART_SIZE, "parts": multipart.MAX_PARTS},
            code="invalid_part_size",
        ) from None
    check_part_requests(upload, parts)  # before S3 is asked for anything
    with storage_errors():
        upload.multipart_upload_id = multipart.create(
            bucket=upload.bucket, key=upload.key, content_type=upload.content_type
        )
    return {
        "multipart": {
            "upload_id": upload.multipart_upload_id,
            "part_size": upload.part_size,
            "part_count": upload.part_count,
            "parts": sign_parts(upload, parts),
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


def upload_start_unsized(
    *,
    owner: User,
    filename: str,
    content_type: str,
    in_parts: bool,
    destination: str = "",
    metadata: Mapping | None = None,
) -> tuple[Upload, dict]:
    """Start an upload whose size the client does not tell (Uppy's Companion routes): a presigned
    POST that admits 1 to `unsized_limit()` bytes, or a multipart upload whose parts pin neither
    length nor checksum. It holds `unsized_limit()` bytes of the quota until the worker measures
    the object; complete refuses parts beyond that, and the worker checks type, size and quota as
    for any upload. Returns (upload, instruction)."""
    rules, content_type, metadata, _path = _checked(owner, destination, filename, content_type, None, metadata)
    upload = _new_upload(owner, filename, content_type, None, rules, metadata=metadata)
    reserved = upload.held_bytes  # what its destination lets an upload of no declared size store
    check_quota(owner, reserved)  # before S3 is asked to create anything
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
    _record_start(upload, owner)
    return upload, instruction


def _checked(
    owner: User,
    destination: str,
    filename: str,
    content_type: str,
    size: int | None,
    metadata: Mapping | None,
    relative_path: str = "",
) -> tuple[destinations.Destination, str, dict, str]:
    """What every start checks before anything is signed, in this order: the destination (it
    exists, this person may upload to it), the type and size by its rules, the name, the folder
    path, the metadata. Returns the rules and the normalised type, metadata and path; raises
    DestinationRefused or PolicyError."""
    rules = destinations.get(destination)
    rules.check_user(owner)
    content_type = validation.normalise_content_type(content_type)
    validation.check_policy(content_type=content_type, size=size, destination=rules)
    validation.check_filename(filename, content_type=content_type)
    relative_path = validation.clean_relative_path(relative_path)
    return rules, content_type, validation.clean_metadata(metadata, rules), relative_path


def _new_upload(
    owner: User,
    filename: str,
    content_type: str,
    size: int | None,
    rules: destinations.Destination,
    relative_path: str = "",
    metadata: Mapping | None = None,
) -> Upload:
    upload_id = uuid.uuid4()
    now = timezone.now()
    return Upload(
        id=upload_id,
        owner=owner,
        bucket=settings.UPLOADER_BUCKET,
        key=keys.object_key(owner_id=owner.pk, upload_id=upload_id, filename=filename, prefix=rules.key_prefix),
        original_filename=keys.display_name(filename),
        destination=rules.name,
        metadata=dict(metadata or {}),
        relative_path=relative_path,
        content_type=content_type,
        size=size,
        # What it holds of the quota from now on (services.usage): without a declared size, what
        # its destination lets such an upload store, until the worker has measured the object.
        held_bytes=size if size is not None else validation.unsized_limit(rules),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.UPLOADER_PENDING_TTL),
    )


def _record_start(upload: Upload, owner: User) -> None:
    """Save the new upload if its bytes (`held_bytes`) still fit its owner's quota; otherwise abort
    what S3 was asked to create and raise the PolicyError."""
    commit = stage_change(upload, action="created", actor=owner, reserve=True)  # built before the transaction
    try:
        if not commit.at_once():  # PostgreSQL: the reservation and the rows in one statement
            with transaction.atomic():
                # Checks and reserves in one statement (concurrent starts of this user cannot both
                # pass), after the new rows: the owner's row is locked for that UPDATE and the COMMIT.
                commit(rows_first=True)
    except validation.PolicyError:
        if upload.multipart_upload_id:  # after the transaction: no network call under its locks
            with storage_errors():
                multipart.abort(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)
        raise


def check_quota(owner: User, reserved: int) -> None:
    """Whether `reserved` more bytes fit the owner's quota now, asked before S3 is asked to create a
    multipart upload. Not the check that counts: that is the start's reservation (_record_start).
    Bytes are held from the start until an upload expires, is aborted, rejected or deleted."""
    quota = settings.UPLOADER_USER_QUOTA
    if not quota:
        return
    held = selectors.upload_bytes_held(owner_id=owner.pk)
    if held + reserved > quota:
        raise usage.over_quota(held, quota)
