"""The parts of a pending multipart upload: their URLs, signed in batches, and what S3 holds."""

import logging
from collections.abc import Mapping, Sequence

from django.utils.translation import gettext

from uploader.aws import multipart, signing
from uploader.domain import validation
from uploader.models import Upload
from uploader.services.common import InvalidParts, WrongState, storage_errors

log = logging.getLogger(__name__)
Status = Upload.Status


MAX_PARTS_PER_REQUEST = 100


def check_part_requests(upload: Upload, parts: Sequence[Mapping]) -> None:
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


def sign_parts(upload: Upload, parts: Sequence[Mapping]) -> list[dict]:
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
    check_part_requests(upload, parts)
    with storage_errors():
        return sign_parts(upload, parts)


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
