"""(Why it is long: one maker per kind of file, each with its limits.)

What the worker makes from an available upload: a WebP thumbnail of an image (EXIF orientation
applied, no metadata kept) or of a video's poster frame, and the duration, dimensions and codec of
video and audio (PyAV: FFmpeg from the wheel, no system ffmpeg); for a reviewer, a larger WebP of
a picture, a PDF's first page and page count (pypdfium2: PDFium, Apache/BSD, where poppler is
GPL), a text file's first lines and a ZIP's listing.

No I/O of its own: it reads a seekable binary file (the worker passes ranged reads of the stored
object, so a large video is never downloaded whole) and returns bytes and figures. Hard limits on
pixels, duration and time refuse a decompression bomb or an endless video before it can hold a
worker; every refusal is a `Refused` with a recorded reason (uploader/domain/reasons.py).
"""

import io
import math
import time
from dataclasses import dataclass
from fractions import Fraction

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from uploader.domain import reasons as R
from uploader.domain import validation  # also Pillow as the project configures it: HEIC, our pixel limit

WEBP_QUALITY = 80
POSTER_AT = 1.0  # seconds into a video, or its middle when shorter: the first frame is often black
MAX_FRAMES = 300  # decoded in search of the poster frame before the nearest one is taken


class Refused(Exception):
    """Nothing is made from this file; the message is a recorded reason."""


@dataclass(frozen=True)
class Limits:
    thumbnail: int
    max_pixels: int
    max_seconds: float
    time_budget: float
    preview: int = 1600  # the reviewer's larger picture, longer side

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(
            thumbnail=settings.UPLOADER_THUMBNAIL_SIZE,
            max_pixels=settings.UPLOADER_MEDIA_MAX_PIXELS,
            max_seconds=settings.UPLOADER_MEDIA_MAX_SECONDS,
            time_budget=settings.UPLOADER_MEDIA_TIME_LIMIT,
            preview=settings.UPLOADER_PREVIEW_SIZE,
        )


@dataclass(frozen=True)
class Made:
    thumbnail: bytes | None = None  # WebP
    width: int | None = None
    height: int | None = None
    duration: float | None = None  # seconds
    codec: str = ""
    preview: bytes | None = None  # WebP, larger: a picture or a PDF's first page, for the reviewer
    page_count: int | None = None
    text: str = ""  # a text file's first lines
    listing: dict | None = None  # a ZIP's: {"entries": [[name, size], ...], "count": n, "total": bytes}


TEXT_LINES = 30  # a text file's first lines, at most TEXT_CHARS characters
TEXT_CHARS = 4000
LISTED_ENTRIES = 100  # a ZIP's entries named; the rest are counted
MAX_CENTRAL_DIRECTORY = 8 * 1024 * 1024  # a ZIP's directory is read whole only up to this


class _Clock:
    def __init__(self, budget: float):
        self.deadline = time.monotonic() + budget

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise Refused(R.MEDIA_TOO_SLOW)


def make(source, *, kind: str, limits: Limits) -> Made:
    """The derivatives of one file of `kind` (media_types.derived_kind: 'image', 'video', 'audio', 'pdf',
    'text' or 'archive')."""
    clock = _Clock(limits.time_budget)
    if kind == "image":
        return _image(source, limits, clock)
    if kind == "pdf":
        return _pdf(source, limits)
    if kind == "text":
        return _text(source)
    if kind == "archive":
        return _zip_listing(source)
    return _media(source, kind, limits, clock)


def _image(source, limits: Limits, clock: _Clock) -> Made:
    try:
        image = Image.open(source)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise Refused(R.MEDIA_UNREADABLE) from exc
    with image:
        width, height = validation.shown_size(image)  # as shown, like the verdict's
        _check_pixels(width, height, limits)  # from the header, before a pixel is decoded
        clock.check()
        try:
            # One decode (at a fraction of full size where JPEG allows), two sizes.
            preview_image = _decoded(image, limits.preview)  # a 12-megapixel JPEG decodes at half size
            preview = _webp(preview_image.copy(), limits.preview) if max(width, height) > limits.thumbnail else None
            thumbnail = _webp(preview_image, limits.thumbnail)
        except (OSError, ValueError, SyntaxError) as exc:
            raise Refused(R.MEDIA_UNREADABLE) from exc
        return Made(thumbnail=thumbnail, width=width, height=height, preview=preview)


def _check_pixels(width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_pixels:
        raise Refused(R.MEDIA_TOO_MANY_PIXELS % {"pixels": width * height, "limit": limits.max_pixels})


def _thumbnail(image: Image.Image, size: int) -> bytes:
    """A WebP at most `size` pixels on its longer side, upright, without EXIF, ICC or XMP."""
    return _webp(_decoded(image, size * 2), size)


def _decoded(image: Image.Image, at_least: int) -> Image.Image:
    """The picture upright; a JPEG decoded at a fraction of its size (far faster) that still has
    `at_least` pixels on each side where it had them."""
    if image.format == "JPEG":
        image.draft("RGB", (at_least, at_least))
    upright = ImageOps.exif_transpose(image)
    return upright if upright is not None else image


def _webp(upright: Image.Image, size: int) -> bytes:
    upright.thumbnail((size, size), Image.Resampling.LANCZOS)
    if upright.mode.startswith("I;16") or upright.mode == "I":  # 16-bit grey (scans, PNG): scaled, not clipped white
        upright = upright.convert("I").point(lambda value: value / 256).convert("L")
    mode = "RGBA" if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info else "RGB"
    clean = Image.new(mode, upright.size)
    clean.paste(upright.convert(mode))  # pixels only: nothing of the original's metadata comes along
    out = io.BytesIO()
    clean.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    return out.getvalue()


def _media(source, kind: str, limits: Limits, clock: _Clock) -> Made:
    import av  # FFmpeg's libraries load in the worker that reads a recording, not in every process

    try:
        container = av.open(source, mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise Refused(R.MEDIA_UNREADABLE) from exc
    with container:
        video = next(iter(container.streams.video), None)
        audio = next(iter(container.streams.audio), None)
        main = video if kind == "video" and video is not None else audio or video
        if main is None:
            raise Refused(R.MEDIA_UNREADABLE)
        duration = _duration(container, limits, clock)
        if duration is not None and duration > limits.max_seconds:
            seconds = max(round(duration), math.floor(limits.max_seconds) + 1)  # read up to just past the limit
            raise Refused(R.MEDIA_TOO_LONG % {"seconds": seconds, "limit": limits.max_seconds})
        codec = main.codec_context.codec.canonical_name or ""  # the format's, not the decoder's (mp3float)
        if main is not video:
            return Made(duration=duration, codec=codec)
        width, height = video.codec_context.width, video.codec_context.height
        _check_pixels(width, height, limits)
        poster, on_its_side = _poster(container, video, duration, limits, clock)
        if on_its_side:  # a phone's portrait video: stored landscape, played turned; its size as played
            width, height = height, width
        return Made(thumbnail=poster, width=width or None, height=height or None, duration=duration, codec=codec)


def _duration(container, limits: Limits, clock: _Clock) -> float | None:
    """From the header when it says; else (a MediaRecorder WebM has no duration in its header)
    from the last packet's end, reading packets without decoding them, and no further than the
    longest duration allowed."""
    import av

    if container.duration:
        return container.duration / av.time_base
    end = None
    try:
        for packet in container.demux():
            clock.check()
            if packet.pts is not None and packet.time_base:
                stop = (packet.pts + (packet.duration or 0)) * packet.time_base
                end = stop if end is None else max(end, stop)
                if end > limits.max_seconds:
                    break
    except av.FFmpegError as exc:
        raise Refused(R.MEDIA_UNREADABLE) from exc
    finally:
        container.seek(0)
    return float(end) if end is not None else None


# A video's display matrix turns its frames counterclockwise by these degrees (FFmpeg's sense).
_TURNS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


def _poster(container, video, duration: float | None, limits: Limits, clock: _Clock) -> tuple[bytes, bool]:
    """The frame at POSTER_AT (or the middle of a shorter video), or the last decoded before it,
    turned as the player turns it; and whether that put it on its side."""
    import av

    target = POSTER_AT if duration is None else min(POSTER_AT, duration / 2)
    video.thread_type = "AUTO"
    # The header's size says nothing of later frames (an MJPEG's frame 2 may be 16000 x 16000): the
    # decoder itself refuses any frame over the limit before allocating it, and each frame that
    # comes out is checked too.
    video.codec_context.options = {"max_pixels": str(limits.max_pixels)}
    chosen = None
    try:
        for count, frame in enumerate(container.decode(video)):
            clock.check()
            _check_pixels(frame.width, frame.height, limits)
            chosen = frame
            at = frame.time if frame.time is not None else float(Fraction(count, 25))
            if at >= target or count >= MAX_FRAMES:
                break
    except av.FFmpegError as exc:
        if chosen is None:
            raise Refused(R.MEDIA_UNREADABLE) from exc
    if chosen is None:
        raise Refused(R.MEDIA_UNREADABLE)
    image, turn = chosen.to_image(), _TURNS.get(round(chosen.rotation) % 360)
    if turn is not None:
        image = image.transpose(turn)
    return _thumbnail(image, limits.thumbnail), turn in (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270)


def _pdf(source, limits: Limits) -> Made:
    """The first page, rendered to fit the reviewer's preview, its thumbnail, and the page count.
    PDFium parses the file but runs none of its JavaScript (no form environment is made), renders
    one page whatever the count, and at a scale that fits the preview whatever the page's size."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(source)
    except (pdfium.PdfiumError, OSError, ValueError) as exc:
        raise Refused(R.MEDIA_UNREADABLE) from exc
    try:
        pages = len(pdf)
        if not pages:
            raise Refused(R.MEDIA_UNREADABLE)
        page = pdf[0]
        width, height = page.get_size()  # points, not pixels: not recorded as the upload's size
        if not (width > 0 and height > 0):
            raise Refused(R.MEDIA_UNREADABLE)
        scale = min(limits.preview / max(width, height), 4.0)
        _check_pixels(round(width * scale), round(height * scale), limits)
        image = page.render(scale=scale, may_draw_forms=False).to_pil()
        page.close()
    except pdfium.PdfiumError as exc:
        raise Refused(R.MEDIA_UNREADABLE) from exc
    finally:
        pdf.close()
    return Made(
        thumbnail=_webp(image.copy(), limits.thumbnail),
        preview=_webp(image, limits.preview),
        page_count=pages,
    )


def _text(source) -> Made:
    """The first lines, as text: UTF-8 (a BOM dropped), else the Korean code page that Excel
    writes CSVs in, else Latin-1, which reads any byte. Stored as text and shown escaped."""
    head = source.read(TEXT_CHARS * 4)
    for encoding in ("utf-8-sig", "cp949", "latin-1"):
        try:
            text = head.decode(encoding)
            break
        except UnicodeDecodeError as exc:
            if encoding == "utf-8-sig" and exc.start > len(head) - 4:  # a character cut by the window
                text = head[: exc.start].decode(encoding)
                break
    lines = text[:TEXT_CHARS].splitlines()[:TEXT_LINES]
    return Made(text="\n".join(line.rstrip("\r") for line in lines))


def _zip_listing(source) -> Made:
    """Names and sizes of a ZIP's first entries, with the count and the total unpacked size, read
    from its central directory (seeks, not the whole file); a directory too large to read in a
    bounded time is counted only."""
    import struct
    import zipfile

    source.seek(0, io.SEEK_END)
    size = source.tell()
    tail_at = max(0, size - 65557)  # the end record and the longest comment
    source.seek(tail_at)
    tail = source.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise Refused(R.MEDIA_UNREADABLE)
    count, directory_size = struct.unpack("<HI", tail[at + 10 : at + 16])
    if directory_size > MAX_CENTRAL_DIRECTORY:
        return Made(listing={"entries": [], "count": count, "total": None})
    source.seek(0)
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise Refused(R.MEDIA_UNREADABLE) from exc
    entries = [[info.filename, info.file_size] for info in infos[:LISTED_ENTRIES]]
    return Made(listing={"entries": entries, "count": len(infos), "total": sum(i.file_size for i in infos)})
