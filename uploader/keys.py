"""Object keys and display names. A filename never decides a path beyond its sanitised last part."""

import re
import unicodedata

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def display_name(filename, *, max_length=255):
    """The client's name for display only: last path component, no control or bidi characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _CONTROL_CATEGORIES).strip()
    return _truncate(name, max_length) or "file"


def safe_name(filename, *, max_length=100):
    """An ASCII name safe in a key and a URL: letters, digits, dot, dash, underscore."""
    full = display_name(filename, max_length=len(filename or "") + 1)
    ascii_name = unicodedata.normalize("NFKD", full).encode("ascii", "ignore").decode()
    return _truncate(_UNSAFE.sub("_", ascii_name).strip("._"), max_length) or "file"


def _truncate(name, max_length):
    """Shorten a name to max_length, keeping a short extension."""
    if len(name) <= max_length:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        return name[:max_length]
    return stem[: max_length - len(ext) - 1] + "." + ext


def object_key(*, owner_id, upload_id, filename):
    return f"uploads/{owner_id}/{upload_id}/{safe_name(filename)}"
