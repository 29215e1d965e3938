"""The one table of media types: what each content type is in the words people use (its kind:
"photo", "PDF", "program"), the extensions it goes by, whether it is allowed by default, whether a
browser may show it inline, whether the admin plays it, and what the worker derives from it.

Every "what kind of file is this" question is answered here: the settings' default allowed list,
the validation, the download headers, the admin's preview, the worker's derivatives and, through
the page's #media-types JSON (`for_page`), the browser's type guess, file chooser and recorder.
A type the table does not know is a "file" of its own MIME name.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class Kind:
    one: str  # "a photo" as a label: "Photo"
    many: str  # in a list of what is accepted: "photos"


KINDS = {
    "photo": Kind(_("Photo"), pgettext_lazy("kinds accepted", "photos")),
    "video": Kind(_("Video"), pgettext_lazy("kinds accepted", "videos")),
    "audio": Kind(_("Audio"), pgettext_lazy("kinds accepted", "audio")),
    "pdf": Kind(_("PDF"), pgettext_lazy("kinds accepted", "PDFs")),
    "text": Kind(_("Text"), pgettext_lazy("kinds accepted", "text files")),
    "spreadsheet": Kind(_("Spreadsheet"), pgettext_lazy("kinds accepted", "CSV spreadsheets")),
    "archive": Kind(_("ZIP archive"), pgettext_lazy("kinds accepted", "ZIP archives")),
    "document": Kind(_("Document"), pgettext_lazy("kinds accepted", "documents")),
    "web": Kind(_("Web page"), pgettext_lazy("kinds accepted", "web pages")),
    "program": Kind(_("Program"), pgettext_lazy("kinds accepted", "programs")),
    "file": Kind(_("File"), pgettext_lazy("kinds accepted", "files")),
}


@dataclass(frozen=True)
class MediaType:
    content_type: str
    kind: str
    extensions: tuple[str, ...]  # the first is the usual one
    inline: bool = False  # safe for a browser to show (never markup: HTML and SVG download)
    allowed: bool = False  # in the default UPLOADER_ALLOWED_TYPES
    plays: str = ""  # the admin's player for it: "video" or "audio"
    derive: str = ""  # what the worker makes of it (derivatives.make's kind), "" for nothing
    sniffs_as: tuple[str, ...] = ()  # other types its content is sniffed as (a sibling container)
    text: bool = False  # no magic number: its content must not look like a known binary format


TYPES = {
    t.content_type: t
    for t in [
        MediaType("image/jpeg", "photo", (".jpg", ".jpeg", ".jpe", ".jfif"), True, True, derive="image"),
        MediaType("image/png", "photo", (".png",), True, True, derive="image"),
        MediaType("image/gif", "photo", (".gif",), True, True, derive="image"),
        MediaType("image/webp", "photo", (".webp",), True, True, derive="image"),
        MediaType("image/heic", "photo", (".heic", ".heif"), allowed=True, derive="image"),
        MediaType("image/avif", "photo", (".avif",), derive="image"),
        MediaType("image/svg+xml", "web", (".svg",)),  # markup: never inline, never decoded
        MediaType("video/mp4", "video", (".mp4", ".m4v"), True, True, "video", "video", ("video/quicktime",)),
        MediaType("video/quicktime", "video", (".mov", ".qt"), True, True, "video", "video", ("video/mp4",)),
        MediaType("video/webm", "video", (".webm",), True, True, "video", "video"),
        MediaType("audio/mpeg", "audio", (".mp3",), True, True, "audio", "audio"),
        # A WebM's EBML header names the container only: an audio-only recording sniffs as video.
        MediaType("audio/webm", "audio", (".webm", ".weba"), True, True, "audio", "audio", ("video/webm",)),
        MediaType("audio/mp4", "audio", (".m4a",), derive="audio"),
        MediaType("application/pdf", "pdf", (".pdf",), True, True, derive="pdf"),
        MediaType("text/plain", "text", (".txt", ".text", ".log", ".md"), True, True, derive="text", text=True),
        MediaType("text/csv", "spreadsheet", (".csv",), allowed=True, derive="text", text=True),
        MediaType("application/zip", "archive", (".zip",), allowed=True, derive="archive"),
        MediaType("application/msword", "document", (".doc",)),
        MediaType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document", (".docx",)),
        MediaType("text/html", "web", (".html", ".htm")),
        MediaType("application/x-msdownload", "program", (".exe", ".dll", ".com", ".bat", ".msi")),
        MediaType("application/x-ms-dos-executable", "program", (".exe",)),
        MediaType("application/vnd.microsoft.portable-executable", "program", (".exe", ".dll")),
        MediaType("application/x-msi", "program", (".msi",)),
        MediaType("application/x-executable", "program", ()),
        MediaType("application/x-elf", "program", ()),
        MediaType("application/x-mach-binary", "program", ()),
        MediaType("application/x-sh", "program", (".sh",)),
        MediaType("application/vnd.android.package-archive", "program", (".apk",)),
        MediaType("application/x-apple-diskimage", "program", (".dmg",)),
        MediaType("application/java-archive", "program", (".jar",)),
    ]
}
# A name's extension that says "program" whatever type the browser guessed for it.
PROGRAM_EXTENSIONS = frozenset(
    {".exe", ".dll", ".com", ".bat", ".cmd", ".msi", ".scr", ".ps1", ".vbs", ".apk", ".dmg", ".jar", ".sh", ".app"}
)

INLINE_SAFE_TYPES = frozenset(t.content_type for t in TYPES.values() if t.inline)
# The default UPLOADER_ALLOWED_TYPES (config/settings/base.py), in the table's order.
ALLOWED_BY_DEFAULT = [t.content_type for t in TYPES.values() if t.allowed]
# What the admin plays in a <video> or <audio> element.
PLAYABLE = {t.content_type: t.plays for t in TYPES.values() if t.plays}
# What a declared type's content may sniff as: itself, or a sibling.
SNIFFS_AS = {t.content_type: {t.content_type, *t.sniffs_as} for t in TYPES.values() if t.sniffs_as}
TEXT_TYPES = frozenset(t.content_type for t in TYPES.values() if t.text)
# Decoded by the worker as pictures whatever their subtype (never SVG: markup, handled by the table).
_DERIVED_FAMILIES = ("image", "video", "audio")


def kind_of(content_type: str, filename: str = "") -> str:
    """The kind of a declared type ("photo"), "program" for a program's name whatever its type."""
    dot = filename.rfind(".")
    if dot > 0 and filename[dot:].lower() in PROGRAM_EXTENSIONS:
        return "program"
    known = TYPES.get(content_type)
    return known.kind if known else "file"


def derived_kind(content_type: str) -> str:
    """What the worker makes derivatives of ('image', 'video', 'audio', 'pdf', 'text',
    'archive'), '' for nothing. A type the table does not know is decoded by its family
    (image/tiff is tried as an image) and bounded like any other."""
    known = TYPES.get(content_type)
    if known is not None:
        return known.derive
    family = content_type.split("/", 1)[0]
    return family if family in _DERIVED_FAMILIES else ""


def extensions(content_type: str) -> tuple[str, ...]:
    known = TYPES.get(content_type)
    return known.extensions if known else ()


def kind_label(content_type: str) -> str:
    return str(KINDS[kind_of(content_type)].one)


def accepted(allowed_types) -> list[dict]:
    """The kinds a list of allowed types amounts to, in the table's order, each with its
    extensions: what the page says is accepted."""
    kinds: dict[str, list[str]] = {}
    for content_type in allowed_types:
        kinds.setdefault(kind_of(content_type), []).extend(extensions(content_type) or [content_type])
    order = list(KINDS)
    return [
        {"kind": kind, "label": str(KINDS[kind].many), "extensions": sorted(set(exts), key=exts.index)}
        for kind, exts in sorted(kinds.items(), key=lambda item: order.index(item[0]))
    ]


def accepted_sentence(allowed_types) -> str:
    """ "photos, videos, audio, PDFs, ..." for messages."""
    return ", ".join(entry["label"] for entry in accepted(allowed_types))


def for_page(allowed_types) -> dict:
    """What the page's script needs to name a file's kind before any request: every known type's
    kind, the type an extension stands for (the first type in the table that goes by it), each
    type's usual extension, the extensions of programs, and each kind's words."""
    by_extension: dict[str, str] = {}
    for t in TYPES.values():
        for ext in t.extensions:
            by_extension.setdefault(ext, t.content_type)
    return {
        "types": {t.content_type: t.kind for t in TYPES.values()},
        "extensions": by_extension,
        "usual": {t.content_type: t.extensions[0] for t in TYPES.values() if t.extensions},
        "programs": sorted(PROGRAM_EXTENSIONS),
        "kinds": {name: {"one": str(kind.one), "many": str(kind.many)} for name, kind in KINDS.items()},
        "accepted": accepted(allowed_types),
    }
