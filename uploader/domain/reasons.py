"""Why an upload was rejected or expired, and why its parts were refused.

Recorded in English, one sentence per reason (the record, the audit trail and the logs keep one
language, and the worker has no reader); shown in the reader's language by `translate`, which
recognises the recorded sentences by these templates."""

import re

from django.utils.translation import gettext, gettext_noop

from uploader.domain.media_types import kind_label

SIZE_OUTSIDE = gettext_noop("Stored size %(size)s is outside 1..%(limit)s bytes.")
SIZE_DIFFERS = gettext_noop("Stored size %(size)s differs from the declared %(declared)s bytes.")
TYPE_DIFFERS = gettext_noop("Stored type '%(stored)s' differs from the declared '%(declared)s'.")
NOT_FOR_DESTINATION = gettext_noop("Type '%(type)s' is not accepted for %(destination)s.")
CHECKSUM_DIFFERS = gettext_noop("Stored SHA-256 checksum differs from the declared one.")
BINARY_CONTENT = gettext_noop("Content looks like binary data, not %(declared)s.")
UNKNOWN_CONTENT = gettext_noop("Content looks like unknown data, not %(declared)s.")
OTHER_CONTENT = gettext_noop("Content looks like %(found)s, not %(declared)s.")
IMAGE_HEADER = gettext_noop("The image header cannot be read.")
POLYGLOT = gettext_noop("The image carries markup or script (a polyglot file).")
OVER_QUOTA = gettext_noop(
    "Stored size %(size)s would take the owner over the quota (%(held)s of %(quota)s bytes in use)."
)
PARTS_TOTAL = gettext_noop("The stored parts add up to %(total)s bytes, not the declared %(size)s.")
PARTS_UNEXPECTED = gettext_noop("Unexpected parts: %(parts)s.")
PARTS_WRONG_SIZE = gettext_noop("Parts of the wrong size: %(parts)s.")
PARTS_MISSING = gettext_noop("Parts not uploaded yet: %(parts)s.")
PARTS_MISMATCH = gettext_noop("Parts %(parts)s do not match what the store holds.")
PARTS_TWICE = gettext_noop("A part number is listed twice.")
NO_PARTS = gettext_noop("No parts were uploaded.")
PARTS_TOO_LARGE = gettext_noop("The parts add up to %(total)s bytes, more than the %(max)s allowed.")
ABORTED = gettext_noop("Aborted by the client.")
OBJECT_REMOVED = gettext_noop("The object was removed from the bucket.")
OBJECT_REPLACED = gettext_noop("The object was replaced after it was verified.")
OBJECT_MISSING = gettext_noop("The object is missing from the bucket.")
DEADLINE = gettext_noop("The upload was not finished before its deadline.")
INFECTED = gettext_noop("Malware was found in the file: %(signature)s.")
UNSCANNABLE = gettext_noop("The file could not be scanned for malware: %(why)s.")
# Why no thumbnail or media figures were made (the upload itself stays available).
MEDIA_UNREADABLE = gettext_noop("The file could not be decoded to make a thumbnail.")
MEDIA_TOO_MANY_PIXELS = gettext_noop("The picture has %(pixels)s pixels, more than the %(limit)s allowed.")
MEDIA_TOO_LONG = gettext_noop("The recording lasts %(seconds)s seconds, longer than the %(limit)s allowed.")
MEDIA_TOO_SLOW = gettext_noop("Making the thumbnail took longer than allowed.")
MEDIA_GAVE_UP = gettext_noop("Making the thumbnail stopped the worker %(attempts)s times; it is not tried again.")
# How a liar's reason reads: in kinds, each with its type ("Photo (image/jpeg)").
SHOWN_OTHER_CONTENT = gettext_noop("The content does not match: sent as %(declared)s, it is %(found)s.")

# The specific before the general: "binary data" is also "%(found)s".
_TEMPLATES = [
    SIZE_OUTSIDE,
    SIZE_DIFFERS,
    TYPE_DIFFERS,
    NOT_FOR_DESTINATION,
    CHECKSUM_DIFFERS,
    BINARY_CONTENT,
    UNKNOWN_CONTENT,
    OTHER_CONTENT,
    IMAGE_HEADER,
    POLYGLOT,
    OVER_QUOTA,
    PARTS_TOTAL,
    PARTS_UNEXPECTED,
    PARTS_WRONG_SIZE,
    PARTS_MISSING,
    PARTS_MISMATCH,
    PARTS_TWICE,
    NO_PARTS,
    PARTS_TOO_LARGE,
    ABORTED,
    DEADLINE,
    INFECTED,
    UNSCANNABLE,
    OBJECT_REMOVED,
    OBJECT_REPLACED,
    OBJECT_MISSING,
    MEDIA_UNREADABLE,
    MEDIA_TOO_MANY_PIXELS,
    MEDIA_TOO_LONG,
    MEDIA_TOO_SLOW,
    MEDIA_GAVE_UP,
]


def _pattern(template: str) -> re.Pattern[str]:
    pieces = re.split(r"%\((\w+)\)s", template)
    body = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(pieces))
    return re.compile(body + r"(?= |$)")


_PATTERNS = [(template, _pattern(template)) for template in _TEMPLATES]


def _kind_and_type(content_type: str) -> str:
    return f"{kind_label(content_type)} ({content_type})"


def say(*sentences: str) -> str:
    """The recorded form: English sentences joined by spaces."""
    return " ".join(sentences)


def translate(text: str) -> str:
    """`text` (recorded reasons) in the active language; what no template knows stays as it is."""
    if not text:
        return text
    out, pos = [], 0
    while pos < len(text):
        for template, pattern in _PATTERNS:
            found = pattern.match(text, pos)
            if found:
                values = found.groupdict()
                if template == OTHER_CONTENT:  # in people's words: the kinds, each with its type
                    template, values = SHOWN_OTHER_CONTENT, {k: _kind_and_type(v) for k, v in values.items()}
                out.append(gettext(template) % values)
                pos = found.end() + 1
                break
        else:
            out.append(text[pos:])
            break
    return " ".join(out)
