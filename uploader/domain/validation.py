"""What may be uploaded (policy, checked before signing) and whether what arrived is what was
declared (checked by the worker on the stored object). Pure functions, no I/O.

Why it is long: every allowed format's header is read here (JPEG, PNG, WebP, HEIC, MP4, WebM,
PDF, ZIP, text), each a few lines."""

import base64
import binascii
import io
import json
import mimetypes
import re
import struct
import unicodedata
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.text import capfirst
from django.utils.translation import gettext
from PIL import ExifTags, Image, UnidentifiedImageError
from pillow_heif import register_heif_opener

from uploader.domain import destinations, media_types
from uploader.domain import reasons as R
from uploader.domain.errors import DomainError

register_heif_opener()  # HEIC photos (iPhones'): Pillow reads their header and pixels through libheif
# Pillow's own decompression-bomb check is replaced by ours: a header's dimensions are read freely
# (a panorama is not a broken image), and nothing decodes an image of more pixels than
# UPLOADER_MEDIA_MAX_PIXELS (uploader/inspection/derivatives.py checks before decoding).
Image.MAX_IMAGE_PIXELS = None

SNIFF_BYTES = 65536  # enough for a JPEG's header behind a phone's EXIF block

# Types whose content has no magic number (they must not look like a known binary format), and
# declared types whose content sniffs as a sibling's name: the table says (uploader/domain/media_types.py).
_TEXT_TYPES = media_types.TEXT_TYPES
_ALIASES = media_types.SNIFFS_AS


# Served inline (shown or played by the browser); anything else, SVG and HTML included, downloads.
INLINE_SAFE_TYPES = media_types.INLINE_SAFE_TYPES


class PolicyError(DomainError):
    """The upload breaks a rule of the policy; its `code` decides the HTTP status."""

    STATUS = {"unsupported_type": 415, "too_large": 413, "quota_exceeded": 413}

    def __init__(self, message: str, *, code: str):
        super().__init__(message, code=code, status=self.STATUS.get(code, 400))


def normalise_content_type(content_type):
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_policy(*, content_type, size, destination=None):
    """Raise PolicyError (code 'unsupported_type', 'too_large' or 'invalid_size') or return None.
    The rules are the destination's (uploader/domain/destinations.py), `default` when none is given."""
    destination = destination or destinations.get(None)
    if content_type not in destination.allowed_types:
        kind = media_types.KINDS[media_types.kind_of(content_type)]
        raise PolicyError(
            gettext("%(kinds)s are not accepted here (%(type)s); accepted: %(accepted)s.")
            % {
                "kinds": capfirst(kind.many),
                "type": content_type,
                "accepted": media_types.accepted_sentence(destination.allowed_types),
            },
            code="unsupported_type",
        )
    if size is None:  # the legacy presign call declares no size: the worker checks the stored one
        return
    if size <= 0:
        raise PolicyError(gettext("An upload must be at least one byte."), code="invalid_size")
    if size > destination.max_size:
        raise PolicyError(
            gettext("The file is %(size)s, larger than the %(max)s allowed.")
            % {"size": filesizeformat(size), "max": filesizeformat(destination.max_size)},
            code="too_large",
        )


def has_control_characters(text: str, allowed: str = "") -> bool:
    """Whether text holds a control or format character (bidi overrides, zero-widths) other than
    those `allowed`: names, folder paths and metadata all refuse them."""
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text if ch not in allowed)


MAX_METADATA_KEYS = 16
MAX_METADATA_BYTES = 2048
_METADATA_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def clean_metadata(metadata, destination=None) -> dict:
    """A client's small JSON about its upload (a caption, a ticket number): an object of at most
    MAX_METADATA_KEYS keys and MAX_METADATA_BYTES of JSON, whose values are strings, numbers,
    booleans or null. A destination that declares fields takes only those, typed, the required
    ones present."""
    destination = destination or destinations.get(None)

    def refuse(why):
        raise PolicyError(gettext("Metadata refused: %(why)s.") % {"why": why}, code="invalid_metadata")

    if metadata in (None, ""):
        metadata = {}
    if not isinstance(metadata, dict):
        refuse(gettext("it must be a JSON object"))
    if len(metadata) > MAX_METADATA_KEYS:
        refuse(gettext("it has more than %(max)s keys") % {"max": MAX_METADATA_KEYS})
    for key, value in metadata.items():
        if not _METADATA_KEY.fullmatch(key):
            refuse(gettext("%(key)s is not a key (letters, digits, . - _; a letter first)") % {"key": key[:64]})
        if isinstance(value, (dict, list)):
            refuse(gettext("%(key)s must be a string, a number, true, false or null") % {"key": key})
        if isinstance(value, str) and has_control_characters(value, allowed="\n"):
            refuse(gettext("%(key)s contains control or text-direction characters") % {"key": key})
    if len(json.dumps(metadata, ensure_ascii=False).encode()) > MAX_METADATA_BYTES:
        refuse(gettext("it is longer than %(max)s bytes of JSON") % {"max": MAX_METADATA_BYTES})
    declared = destination.metadata
    if declared:
        unknown = sorted(set(metadata) - set(declared))
        if unknown:
            names = {"keys": ", ".join(unknown), "known": ", ".join(declared)}
            refuse(gettext("%(keys)s not taken here; taken: %(known)s") % names)
        for key, spec in declared.items():
            value = metadata.get(key)
            if value is None:
                if spec.required:
                    refuse(gettext("%(key)s is required") % {"key": key})
                continue
            wanted = destinations.METADATA_TYPES[spec.type]
            if not isinstance(value, wanted) or (spec.type != "bool" and isinstance(value, bool)):
                refuse(gettext("%(key)s must be of type %(type)s") % {"key": key, "type": spec.type})
            if isinstance(value, str) and len(value) > spec.max_length:
                refuse(gettext("%(key)s is longer than %(max)s characters") % {"key": key, "max": spec.max_length})
    return metadata


MAX_FILENAME = 255


def check_filename(filename, *, content_type):
    """Refuse names that try something: paths, control or bidi characters, over-long names, and an
    extension that contradicts the declared type (`photo.jpg.php` declared as image/jpeg)."""

    def refuse(why):
        raise PolicyError(gettext("Filename refused: %(why)s.") % {"why": why}, code="invalid_filename")

    if not filename or not filename.strip():
        refuse(gettext("it is empty"))
    if len(filename) > MAX_FILENAME:
        refuse(gettext("it is longer than %(max)s characters") % {"max": MAX_FILENAME})
    if "/" in filename or "\\" in filename or filename.strip() in (".", ".."):
        refuse(gettext("it contains a path"))
    if has_control_characters(filename):
        refuse(gettext("it contains control or text-direction characters"))
    _, dot, extension = filename.rpartition(".")
    if dot:  # ".html" alone is an extension too
        allowed = set(mimetypes.guess_all_extensions(content_type)) | set(media_types.extensions(content_type))
        if allowed and f".{extension.lower()}" not in allowed:
            refuse(
                gettext("the extension .%(extension)s does not match %(type)s")
                % {"extension": extension, "type": content_type}
            )


MAX_PATH = 1024
MAX_PATH_DEPTH = 32


def clean_relative_path(path: str) -> str:
    """The folder a file was chosen from (`holiday/day1`), for display, search and the download's
    name only, never for the object key: NFC, `/` between folders, none empty or `.`. Refuses a
    path that climbs (`..`), starts at a root or drive, or carries control or text-direction
    characters, and one longer or deeper than a folder tree needs."""

    def refuse(why):
        raise PolicyError(gettext("Folder path refused: %(why)s.") % {"why": why}, code="invalid_path")

    path = unicodedata.normalize("NFC", (path or "").replace("\\", "/"))
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        refuse(gettext("it must be relative"))
    if has_control_characters(path):
        refuse(gettext("it contains control or text-direction characters"))
    folders = [folder.strip() for folder in path.split("/")]
    folders = [folder for folder in folders if folder not in ("", ".")]
    if ".." in folders:
        refuse(gettext("it climbs out of its folder"))
    if any(len(folder) > MAX_FILENAME for folder in folders) or len(folders) > MAX_PATH_DEPTH:
        refuse(gettext("it is deeper or longer than a folder tree needs"))
    cleaned = "/".join(folders)
    if len(cleaned) > MAX_PATH:
        refuse(gettext("it is longer than %(max)s characters") % {"max": MAX_PATH})
    return cleaned


# Markup or script inside an image is a polyglot: harmless as an image, dangerous if ever served
# as something else.
_MARKUP = (b"<?php", b"<script", b"<html", b"<svg", b"<!doctype html", b"<iframe", b"<body")


def carries_markup(data):
    lowered = data.lower()
    return any(marker in lowered for marker in _MARKUP)


def is_valid_sha256_b64(value):
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def sniff(head):
    """The MIME type the first bytes show, or None when they match no known signature."""
    return filetype.guess_mime(head) if head else None


def image_dimensions(head):
    """(width, height) as the picture is shown, read from its header bytes alone, or None. A phone
    stores a portrait photo landscape with an EXIF orientation that turns it (5 to 8: a quarter
    turn); the EXIF block is read only where the header already holds it, never by decoding."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return webp_dimensions(head)  # Pillow's WebP reader wants the whole file, not a head
    try:
        with Image.open(io.BytesIO(head)) as image:
            return shown_size(image)
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def webp_dimensions(head):
    """A WebP's (width, height) from its first chunk's header, or None: VP8 (lossy: the key
    frame's 14-bit sizes after its start code), VP8L (lossless: 14-bit sizes less one after the
    0x2f signature) or VP8X (extended, animated: the 24-bit canvas less one). Nothing is decoded."""
    if len(head) < 30:
        return None
    chunk, data = head[12:16], head[20:30]
    if chunk == b"VP8 " and data[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[6:10])
        size = (width & 0x3FFF, height & 0x3FFF)
    elif chunk == b"VP8L" and data[0] == 0x2F:
        bits = int.from_bytes(data[1:5], "little")
        size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    elif chunk == b"VP8X":
        size = (int.from_bytes(data[4:7], "little") + 1, int.from_bytes(data[7:10], "little") + 1)
    else:
        return None
    return size if all(size) else None


def shown_size(image):
    """An opened image's (width, height) as shown: swapped when the EXIF block its header holds
    gives a quarter-turn orientation (5 to 8). Nothing is decoded."""
    width, height = image.size
    return (height, width) if exif_orientation(image.info.get("exif")) in (5, 6, 7, 8) else (width, height)


def exif_orientation(exif_block):
    """The EXIF orientation (1 to 8) in a raw EXIF block, or None; a malformed block has none."""
    if not exif_block:
        return None
    exif = Image.Exif()
    try:
        exif.load(exif_block)
    except (OSError, ValueError, SyntaxError, struct.error):
        return None
    return exif.get(ExifTags.Base.Orientation)


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str
    head: bytes
    tail: bytes = b""  # the last bytes, when the object is longer than the head
    etag: str = ""
    checksum_sha256: str = ""


def unsized_limit(destination=None):
    """The most an upload that declared no size (the legacy call, Uppy's Companion routes) may
    store; it is also what such an upload holds against the quota until the worker measures it."""
    max_size = destination.max_size if destination else settings.UPLOADER_MAX_SIZE
    return min(max_size, settings.UPLOADER_LEGACY_MAX_SIZE)


def verify_stored(*, declared_type, declared_size, declared_checksum, stored, destination=None):
    """The reasons the stored object is not what was declared, or not what its destination takes
    (its rules may have tightened since it was signed); empty when it is. With no declared size
    (the legacy call), the object may be at most the legacy reservation."""
    reasons = []
    destination = destination or destinations.get(None)
    limit = unsized_limit(destination) if declared_size is None else destination.max_size
    if declared_size is not None and stored.size != declared_size:
        reasons.append(R.SIZE_DIFFERS % {"size": stored.size, "declared": declared_size})
    elif not 0 < stored.size <= limit:
        reasons.append(R.SIZE_OUTSIDE % {"size": stored.size, "limit": limit})
    if declared_type not in destination.allowed_types:
        reasons.append(R.NOT_FOR_DESTINATION % {"type": declared_type, "destination": destination.name})
    if normalise_content_type(stored.content_type) != declared_type:
        reasons.append(R.TYPE_DIFFERS % {"stored": stored.content_type, "declared": declared_type})
    if declared_checksum and stored.checksum_sha256 and stored.checksum_sha256 != declared_checksum:
        reasons.append(R.CHECKSUM_DIFFERS)
    found = sniff(stored.head)
    if declared_type in _TEXT_TYPES:
        if found is not None or b"\x00" in stored.head:
            reasons.append(
                R.OTHER_CONTENT % {"found": found, "declared": declared_type}
                if found
                else R.BINARY_CONTENT % {"declared": declared_type}
            )
    elif found not in _ALIASES.get(declared_type, {declared_type}):
        reasons.append(
            R.OTHER_CONTENT % {"found": found, "declared": declared_type}
            if found
            else R.UNKNOWN_CONTENT % {"declared": declared_type}
        )
    elif declared_type.startswith("image/"):
        if image_dimensions(stored.head) is None:
            reasons.append(R.IMAGE_HEADER)
        if carries_markup(stored.head) or carries_markup(stored.tail):
            reasons.append(R.POLYGLOT)
    return reasons
