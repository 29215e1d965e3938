"""What may be uploaded (policy, checked before signing) and whether what arrived is what was
declared (checked by the worker on the stored object). Pure functions, no I/O."""

import base64
import binascii
from dataclasses import dataclass

import io

import filetype
from PIL import Image, UnidentifiedImageError
from django.conf import settings

SNIFF_BYTES = 65536  # enough for a JPEG's header behind a phone's EXIF block

# Types whose content has no magic number: they must not look like a known binary format.
_TEXT_TYPES = {"text/plain", "text/csv"}
# Declared types that sniff as a sibling name.
_ALIASES = {"video/quicktime": {"video/quicktime", "video/mp4"}, "video/mp4": {"video/mp4", "video/quicktime"}}


class PolicyError(Exception):
    def __init__(self, message, *, code):
        super().__init__(message)
        self.message = message
        self.code = code


def normalise_content_type(content_type):
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_policy(*, content_type, size):
    """Raise PolicyError (code 'unsupported_type', 'too_large' or 'invalid_size') or return None."""
    if content_type not in settings.UPLOADER_ALLOWED_TYPES:
        allowed = ", ".join(settings.UPLOADER_ALLOWED_TYPES)
        raise PolicyError(f"Type {content_type!r} is not allowed; allowed: {allowed}.", code="unsupported_type")
    if size is None:  # the legacy presign call declares no size: the worker checks the stored one
        return
    if size <= 0:
        raise PolicyError("An upload must be at least one byte.", code="invalid_size")
    if size > settings.UPLOADER_MAX_SIZE:
        raise PolicyError(
            f"{size} bytes is over the limit of {settings.UPLOADER_MAX_SIZE} bytes.", code="too_large"
        )


def is_valid_sha256_b64(value):
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def sniff(head):
    """The MIME type the first bytes show, or None when they match no known signature."""
    return filetype.guess_mime(head) if head else None


def image_dimensions(head):
    """(width, height) read from an image's header bytes alone, or None."""
    try:
        with Image.open(io.BytesIO(head)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str
    head: bytes
    etag: str = ""
    checksum_sha256: str = ""


def verify_stored(*, declared_type, declared_size, declared_checksum, stored):
    """The reasons the stored object is not what was declared; empty when it is."""
    reasons = []
    if declared_size is None:
        if not 0 < stored.size <= settings.UPLOADER_MAX_SIZE:
            reasons.append(f"Stored size {stored.size} is outside 1..{settings.UPLOADER_MAX_SIZE} bytes.")
    elif stored.size != declared_size:
        reasons.append(f"Stored size {stored.size} differs from the declared {declared_size} bytes.")
    if normalise_content_type(stored.content_type) != declared_type:
        reasons.append(f"Stored type {stored.content_type!r} differs from the declared {declared_type!r}.")
    if declared_checksum and stored.checksum_sha256 and stored.checksum_sha256 != declared_checksum:
        reasons.append("Stored SHA-256 checksum differs from the declared one.")
    found = sniff(stored.head)
    if declared_type in _TEXT_TYPES:
        if found is not None or b"\x00" in stored.head:
            reasons.append(f"Content looks like {found or 'binary data'}, not {declared_type}.")
    elif found not in _ALIASES.get(declared_type, {declared_type}):
        reasons.append(f"Content looks like {found or 'unknown data'}, not {declared_type}.")
    return reasons
