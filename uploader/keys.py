"""Object keys and display names. A filename never decides a path beyond its sanitised last part."""

import re
import unicodedata

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def display_name(filename, *, max_length=255):
    """The client's name for display only: last path component, no control or bidi characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _CONTROL_CATEGORIES).strip()
    return name[:max_length] or "file"


def safe_name(filename, *, max_length=100):
    """An ASCII name safe in a key and a URL: letters, digits, dot, dash, underscore."""
    ascii_name = unicodedata.normalize("NFKD", display_name(filename)).encode("ascii", "ignore").decode()
    name = _UNSAFE.sub("_", ascii_name).strip("._") or "file"
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[: max_length - len(ext) - 1].rstrip("._") + (f".{ext}" if ext else "")
    return name


def object_key(*, owner_id, upload_id, filename):
    return f"uploads/{owner_id}/{upload_id}/{safe_name(filename)}"
