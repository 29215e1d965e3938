"""Object keys and display names. A filename never decides a path beyond its sanitised last part."""

import re
import unicodedata

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_JOINERS = {"\u200c", "\u200d"}  # ZWNJ (Persian and Indic words) and ZWJ (emoji sequences): part of a name
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,16}")


def display_name(filename: str, *, max_length: int = 255) -> str:
    """The client's name for display only, as given in any script (NFC): its last path component,
    without control or text-direction characters."""
    name = unicodedata.normalize("NFC", (filename or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if ch in _JOINERS or unicodedata.category(ch) not in _CONTROL_CATEGORIES)
    return _truncate(name.strip(), max_length) or "file"


def safe_name(filename: str, *, max_length: int = 100) -> str:
    """An ASCII name safe in a key and a URL (letters, digits, dot, dash, underscore) that keeps the
    extension whatever the script: `사진.jpg` becomes `file.jpg`, never `jpg`."""
    full = display_name(filename, max_length=len(filename or "") + 1)
    stem, dot, extension = full.rpartition(".")
    if not dot or not _EXTENSION.fullmatch(extension) or not stem.strip("."):
        stem, extension = full, ""
    stem = _UNSAFE.sub("_", unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()).strip("._")
    if not stem or not stem.strip("_"):
        stem = "file"
    return _truncate(f"{stem}.{extension}" if extension else stem, max_length)


def _truncate(name: str, max_length: int) -> str:
    """Shorten a name to max_length, keeping a short extension."""
    if len(name) <= max_length:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        return name[:max_length]
    return stem[: max_length - len(ext) - 1] + "." + ext


def object_key(*, owner_id: int, upload_id: object, filename: str, prefix: str = "") -> str:
    """Under `uploads/` (the bucket's event filter), then the destination's folder if it has one
    (checked by uploader/domain/destinations.py), then the owner's: one owner's objects share a prefix."""
    folder = f"{prefix}/" if prefix else ""
    return f"uploads/{folder}{owner_id}/{upload_id}/{safe_name(filename)}"
