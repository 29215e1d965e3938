"""What is stored under a key, read the way the worker judges it: HEAD, then the first and the
last bytes (markup can hide at either end of a file)."""

import io

from botocore.exceptions import ClientError

from uploader import aws
from uploader.domain import validation

_MISSING = ("404", "NoSuchKey", "NotFound")


def head(*, bucket: str, key: str) -> dict | None:
    """The object's HEAD, or None when nothing is stored under the key."""
    try:
        return aws.s3().head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if aws.error_code(exc) in _MISSING:
            return None
        raise


def read(*, bucket: str, key: str) -> validation.StoredObject | None:
    """HEAD plus up to SNIFF_BYTES from each end of the object, or None when it is not there."""
    found = head(bucket=bucket, key=key)
    if found is None:
        return None
    size = found["ContentLength"]
    first = last = b""
    if size:
        first = _range(bucket, key, f"bytes=0-{min(size, validation.SNIFF_BYTES) - 1}")
    if size > validation.SNIFF_BYTES:
        last = _range(bucket, key, f"bytes=-{min(size - validation.SNIFF_BYTES, validation.SNIFF_BYTES)}")
    return validation.StoredObject(
        size=size,
        content_type=found.get("ContentType", ""),
        head=first,
        tail=last,
        etag=found.get("ETag", "").strip('"'),
        checksum_sha256=found.get("ChecksumSHA256", ""),
    )


def _range(bucket, key, byte_range):
    return aws.s3().get_object(Bucket=bucket, Key=key, Range=byte_range)["Body"].read()


def delete(*, bucket: str, key: str) -> None:
    aws.s3().delete_object(Bucket=bucket, Key=key)


def quarantine(*, bucket: str, key: str) -> str:
    """Copy an infected object under the quarantine prefix (kept private, for whoever investigates);
    the caller deletes the original. Returns the quarantined key."""
    from django.conf import settings

    target = f"{settings.UPLOADER_QUARANTINE_PREFIX}{key}"
    aws.s3().copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key})
    return target


def open_stored(*, bucket: str, key: str, size: int, buffer: int = 1024 * 1024) -> io.BufferedReader:
    """The stored object as a seekable binary file read in ranged GETs of about `buffer` bytes: a
    decoder that needs a video's header and first frames reads those, not the whole object."""
    return io.BufferedReader(_RangedReader(bucket=bucket, key=key, size=size), buffer)


class _RangedReader(io.RawIOBase):
    def __init__(self, *, bucket: str, key: str, size: int):
        super().__init__()
        self.bucket, self.key, self.size = bucket, key, size
        self.position = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.position

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer):
        if self.position >= self.size or not len(buffer):
            return 0
        end = min(self.position + len(buffer), self.size) - 1
        data = _range(self.bucket, self.key, f"bytes={self.position}-{end}")
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)
