"""Multipart uploads: the part plan, the checks before completing, and the S3 calls they need."""

import base64
import hashlib
from dataclasses import dataclass

from botocore.exceptions import ClientError

from uploader import aws
from uploader.domain import reasons
from uploader.domain.units import MiB, ceil_div

MIN_PART_SIZE = 8 * MiB
MAX_PART_SIZE = 64 * MiB  # above this, a file gets more parts instead (a browser holds 4 in memory)
TARGET_PARTS = 16
MAX_PARTS = 10_000
S3_MIN_PART_SIZE = 5 * MiB  # every part but the last


def plan(size, part_size=None):
    """(part_size, part_count): the client's `part_size` if it chose one within MIN_PART_SIZE to
    MAX_PART_SIZE (so it could hash its first parts before asking: their URLs come with the
    start), else about TARGET_PARTS parts of 8 to 64 MiB (whole MiB); never more than S3's
    10,000. The web process signs, lists and completes every part, so its CPU per GiB follows the
    part count (README, Benchmarks): 1 GiB is 16 parts of 64 MiB, as django-s3-file-field cuts it.
    Raises ValueError for a part size out of bounds."""
    if part_size is not None:
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE or ceil_div(size, part_size) > MAX_PARTS:
            raise ValueError(part_size)
        return part_size, ceil_div(size, part_size)
    part_size = min(max(MIN_PART_SIZE, ceil_div(size, TARGET_PARTS * MiB) * MiB), MAX_PART_SIZE)
    part_size = max(part_size, ceil_div(size, MAX_PARTS))
    return part_size, ceil_div(size, part_size)


def part_length(part_number, *, size, part_size):
    return min(part_size, size - (part_number - 1) * part_size)


def composite_checksum(part_checksums):
    """S3's checksum of a multipart object: SHA-256 over the parts' binary digests, then -N."""
    digest = hashlib.sha256(b"".join(base64.b64decode(c) for c in part_checksums)).digest()
    return f"{base64.b64encode(digest).decode()}-{len(part_checksums)}"


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    etag: str
    checksum_sha256: str = ""


class PartsError(Exception):
    """The parts in S3 cannot make the declared object. `fatal` means they never can."""

    def __init__(self, message, *, code, fatal=False):
        super().__init__(message)
        self.message, self.code, self.fatal = message, code, fatal


def _listed(numbers):
    return ", ".join(map(str, numbers[:20])) + (" ..." if len(numbers) > 20 else "")


def check_parts(stored, *, size, part_size, claimed=None):
    """Raise PartsError unless `stored` (from ListParts) is exactly the planned object.

    `claimed` is the client's [(part_number, etag)] if it sent one: it must match S3.
    """
    part_count = ceil_div(size, part_size)
    by_number = {p.number: p for p in stored}
    extra = sorted(n for n in by_number if n > part_count)
    wrong = [
        p.number
        for p in stored
        if p.number <= part_count and p.size != part_length(p.number, size=size, part_size=part_size)
    ]
    total = sum(p.size for p in stored)
    if extra or wrong or total > size:
        raise PartsError(
            reasons.say(
                reasons.PARTS_TOTAL % {"total": total, "size": size},
                *([reasons.PARTS_UNEXPECTED % {"parts": _listed(extra)}] if extra else []),
                *([reasons.PARTS_WRONG_SIZE % {"parts": _listed(wrong)}] if wrong else []),
            ),
            code="size_mismatch",
            fatal=True,
        )
    if claimed is not None:
        _check_claimed(claimed, by_number)
    missing = [n for n in range(1, part_count + 1) if n not in by_number]
    if missing:
        raise PartsError(reasons.PARTS_MISSING % {"parts": _listed(missing)}, code="parts_missing")


def _check_claimed(claimed, by_number):
    """The client's [(part_number, etag[, checksum_sha256])] must name each part once, as S3 holds
    it (its SHA-256 too, where the client gave one)."""
    mismatched = sorted(
        n for n, etag, checksum in map(_claim, claimed) if not _held_as_claimed(by_number.get(n), etag, checksum)
    )
    if mismatched:
        raise PartsError(reasons.PARTS_MISMATCH % {"parts": _listed(mismatched)}, code="parts_mismatch")
    if len(claimed) != len({claim[0] for claim in claimed}):
        raise PartsError(reasons.PARTS_TWICE, code="parts_mismatch")


def _claim(claim):
    """(part_number, etag, checksum_sha256 or "") of a client's (part_number, etag[, checksum])."""
    number, etag, *checksum = claim
    return number, etag, checksum[0] if checksum else ""


def _held_as_claimed(part, etag, checksum):
    return (
        part is not None
        and part.etag.strip('"') == etag.strip('"')
        and (not checksum or not part.checksum_sha256 or part.checksum_sha256 == checksum)
    )


def claimed_in_full(claimed, *, size, part_size):
    """The parts to complete straight from the client's list, without ListParts, or None: when the
    size was declared and the list names every planned part once, each with its ETag and SHA-256.
    That is enough because every part URL of such an upload pins the part's length and SHA-256
    (signing.presign_part, presign_parts) and CompleteMultipartUpload refuses a part whose ETag or
    SHA-256 is not what S3 holds (InvalidPart): S3 makes in that one call the checks check_parts
    makes of ListParts' answer. A refusal is not the end: the caller then lists the parts, for the
    error that names them (README, Benchmarks: ListParts was a fifth of a large file's complete)."""
    if size is None or claimed is None:
        return None
    claims = {number: (etag, checksum) for number, etag, checksum in map(_claim, claimed)}
    part_count = ceil_div(size, part_size)
    if len(claims) != len(claimed) or set(claims) != set(range(1, part_count + 1)):
        return None
    if not all(checksum for _, checksum in claims.values()):
        return None
    return [
        Part(n, part_length(n, size=size, part_size=part_size), etag.strip('"'), checksum)
        for n, (etag, checksum) in sorted(claims.items())
    ]


def check_open_parts(stored, *, claimed, max_size):
    """The parts of an upload whose size was never declared (Uppy's Companion protocol): the
    client's list must match S3's, and together they may hold at most `max_size` bytes. Returns
    the parts to complete, in order."""
    by_number = {p.number: p for p in stored}
    numbers = [claim[0] for claim in claimed] if claimed is not None else sorted(by_number)
    if not numbers:
        raise PartsError(reasons.NO_PARTS, code="parts_missing")
    if claimed is not None:
        _check_claimed(claimed, by_number)
    chosen = [by_number[n] for n in sorted(numbers)]
    total = sum(p.size for p in chosen)
    if total > max_size:
        raise PartsError(reasons.PARTS_TOO_LARGE % {"total": total, "max": max_size}, code="too_large", fatal=True)
    return chosen


def create(*, bucket, key, content_type, checksums=True):
    """Start a multipart upload; with `checksums`, every part must carry its SHA-256."""
    return aws.s3().create_multipart_upload(
        Bucket=bucket, Key=key, ContentType=content_type, **({"ChecksumAlgorithm": "SHA256"} if checksums else {})
    )["UploadId"]


def list_parts(*, bucket, key, upload_id):
    """Every part S3 holds for the upload (ListParts pages at 1,000)."""
    parts, marker = [], 0
    while True:
        page = aws.s3().list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker)
        parts += [
            Part(p["PartNumber"], p["Size"], p["ETag"].strip('"'), p.get("ChecksumSHA256", ""))
            for p in page.get("Parts", [])
        ]
        if not page.get("IsTruncated"):
            return parts
        marker = page["NextPartNumberMarker"]


def complete(*, bucket, key, upload_id, parts):
    aws.s3().complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {
                    "PartNumber": p.number,
                    "ETag": f'"{p.etag}"',
                    **({"ChecksumSHA256": p.checksum_sha256} if p.checksum_sha256 else {}),
                }
                for p in sorted(parts, key=lambda p: p.number)
            ]
        },
    )


def abort(*, bucket, key, upload_id):
    """Abort; an upload S3 no longer knows is already as aborted as it gets."""
    try:
        aws.s3().abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except ClientError as exc:
        if aws.error_code(exc) != "NoSuchUpload":
            raise
