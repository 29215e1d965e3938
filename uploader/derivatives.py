"""What the worker makes from an available upload: a WebP thumbnail of an image (EXIF orientation
applied, no metadata kept) or of a video's poster frame, and the duration, dimensions and codec of
video and audio (PyAV: FFmpeg from the wheel, no system ffmpeg).

No I/O of its own: it reads a seekable binary file (the worker passes ranged reads of the stored
object, so a large video is never downloaded whole) and returns bytes and figures. Hard limits on
pixels, duration and time refuse a decompression bomb or an endless video before it can hold a
worker; every refusal is a `Refused` with a recorded reason (uploader/reasons.py).
"""

import io
import math
import time
from dataclasses import dataclass
from fractions import Fraction

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from . import reasons as R
from . import validation  # also Pillow as the project configures it: HEIC, our pixel limit

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

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(
            thumbnail=settings.UPLOADER_THUMBNAIL_SIZE,
            max_pixels=settings.UPLOADER_MEDIA_MAX_PIXELS,
            max_seconds=settings.UPLOADER_MEDIA_MAX_SECONDS,
            time_budget=settings.UPLOADER_MEDIA_TIME_LIMIT,
        )


@dataclass(frozen=True)
class Made:
    thumbnail: bytes | None = None  # WebP
    width: int | None = None
    height: int | None = None
    duration: float | None = None  # seconds
    codec: str = ""


class _Clock:
    def __init__(self, budget: float):
        self.deadline = time.monotonic() + budget

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise Refused(R.MEDIA_TOO_SLOW)


def make(source, *, kind: str, limits: Limits) -> Made:
    """The derivatives of one file of `kind` ('image', 'video' or 'audio')."""
    clock = _Clock(limits.time_budget)
    if kind == "image":
        return _image(source, limits, clock)
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
            thumbnail = _thumbnail(image, limits.thumbnail)
        except (OSError, ValueError, SyntaxError) as exc:
            raise Refused(R.MEDIA_UNREADABLE) from exc
        return Made(thumbnail=thumbnail, width=width, height=height)


def _check_pixels(width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_pixels:
        raise Refused(R.MEDIA_TOO_MANY_PIXELS % {"pixels": width * height, "limit": limits.max_pixels})


def _thumbnail(image: Image.Image, size: int) -> bytes:
    """A WebP at most `size` pixels on its longer side, upright, without EXIF, ICC or XMP."""
    if image.format == "JPEG":
        image.draft("RGB", (size * 2, size * 2))  # decode at a fraction of full size: far faster
    upright = ImageOps.exif_transpose(image)
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
