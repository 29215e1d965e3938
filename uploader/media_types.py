"""What each content type is, in the words people use: its kind ("photo", "PDF", "program"), the
extensions it goes by, and whether a browser may show it inline.

One table, so the page's "accepted" line, the refusals, the worker's reasons and the download
headers agree. A type the table does not know is a "file" of its own MIME name.
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


TYPES = {
    t.content_type: t
    for t in [
        MediaType("image/jpeg", "photo", (".jpg", ".jpeg", ".jpe", ".jfif"), inline=True),
        MediaType("image/png", "photo", (".png",), inline=True),
        MediaType("image/gif", "photo", (".gif",), inline=True),
        MediaType("image/webp", "photo", (".webp",), inline=True),
        MediaType("image/heic", "photo", (".heic", ".heif")),
        MediaType("image/avif", "photo", (".avif",)),
        MediaType("image/svg+xml", "web", (".svg",)),
        MediaType("video/mp4", "video", (".mp4", ".m4v"), inline=True),
        MediaType("video/quicktime", "video", (".mov", ".qt"), inline=True),
        MediaType("video/webm", "video", (".webm",), inline=True),
        MediaType("audio/mpeg", "audio", (".mp3",), inline=True),
        MediaType("audio/webm", "audio", (".weba", ".webm"), inline=True),
        MediaType("audio/mp4", "audio", (".m4a",)),
        MediaType("application/pdf", "pdf", (".pdf",), inline=True),
        MediaType("text/plain", "text", (".txt", ".text", ".log", ".md"), inline=True),
        MediaType("text/csv", "spreadsheet", (".csv",)),
        MediaType("application/zip", "archive", (".zip",)),
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


def kind_of(content_type: str, filename: str = "") -> str:
    """The kind of a declared type ("photo"), "program" for a program's name whatever its type."""
    dot = filename.rfind(".")
    if dot > 0 and filename[dot:].lower() in PROGRAM_EXTENSIONS:
        return "program"
    known = TYPES.get(content_type)
    return known.kind if known else "file"


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
    kind, the extensions of programs, and each kind's words."""
    return {
        "types": {t.content_type: t.kind for t in TYPES.values()},
        "extensions": {ext: t.content_type for t in TYPES.values() for ext in t.extensions if ext not in (".webm",)},
        "programs": sorted(PROGRAM_EXTENSIONS),
        "kinds": {name: {"one": str(kind.one), "many": str(kind.many)} for name, kind in KINDS.items()},
        "accepted": accepted(allowed_types),
    }
