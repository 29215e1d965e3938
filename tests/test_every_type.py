"""Every allowed type, at the size people really send, becomes available when it is what it says:
the verdict reads what each format needs from its head (a WebP's chunk header, since Pillow's WebP
reader wants the whole file), never only what fits a small test file."""

import io
import os
import zipfile

import pytest
from django.conf import settings
from PIL import Image

from uploader.domain import validation
from uploader.models import Upload

from .factories import mp3_audio, webm_audio
from .helpers import put_object, start_upload, wait_for

MiB = 1024 * 1024


def _grain(width, height):
    """A picture that compresses as a photo does, not as a flat colour: a few MB, not a few KB."""
    return Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))


def _saved(image, kind, **options):
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def _animated_webp():
    frames = [_grain(400, 300) for _ in range(3)]
    return _saved(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)


def _heic():
    from pillow_heif import register_heif_opener

    register_heif_opener()
    return _saved(_grain(1600, 1200), "HEIF", quality=85)


def _grain_video(wrapper, codec, seconds=2, fps=10, width=640, height=480):
    """A video of grain (a flat colour would be a few kilobytes): as large as a phone's short clip."""
    import av

    out = io.BytesIO()
    with av.open(out, "w", format=wrapper) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libvpx":
            stream.options = {"deadline": "realtime", "cpu-used": "8"}
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_image(_grain(width, height))
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


def _zip():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("scan.bin", os.urandom(300_000))
        archive.writestr("notes.txt", "hello\n" * 1000)
    return out.getvalue()


# (name, content type, body maker, (width, height) as shown or None)
FILES = [
    ("phone.jpg", "image/jpeg", lambda: _saved(_grain(2000, 1500), "JPEG", quality=85), (2000, 1500)),
    ("screen.png", "image/png", lambda: _saved(_grain(1200, 900), "PNG"), (1200, 900)),
    ("lossy.webp", "image/webp", lambda: _saved(_grain(1600, 1200), "WEBP", quality=80), (1600, 1200)),
    ("lossless.webp", "image/webp", lambda: _saved(_grain(900, 700), "WEBP", lossless=True), (900, 700)),
    ("moving.webp", "image/webp", _animated_webp, (400, 300)),
    ("moving.gif", "image/gif", lambda: _saved(_grain(800, 600), "GIF"), (800, 600)),
    ("camera.heic", "image/heic", _heic, (1600, 1200)),
    ("scan.pdf", "application/pdf", lambda: _saved(_grain(1000, 1400), "PDF"), None),
    ("clip.mp4", "video/mp4", lambda: _grain_video("mp4", "libx264"), (640, 480)),
    ("clip.mov", "video/quicktime", lambda: _grain_video("mov", "libx264"), (640, 480)),
    ("clip.webm", "video/webm", lambda: _grain_video("webm", "libvpx"), (640, 480)),
    ("song.mp3", "audio/mpeg", lambda: mp3_audio(seconds=30), None),
    ("memo.weba", "audio/webm", lambda: webm_audio(seconds=8), None),
    ("archive.zip", "application/zip", _zip, None),
    ("notes.txt", "text/plain", lambda: ("이것은 메모입니다. A line of notes.\n" * 8000).encode(), None),
    ("table.csv", "text/csv", lambda: "".join(f"{n},name {n},{n * 3.5}\n" for n in range(20_000)).encode(), None),
]


def test_the_files_are_real_sized_and_cover_every_allowed_type():
    assert {content_type for _, content_type, _, _ in FILES} == set(settings.UPLOADER_ALLOWED_TYPES)


@pytest.mark.parametrize(
    "make, size", [(f[2], f[3]) for f in FILES if f[1] == "image/webp"], ids=["lossy", "lossless", "animated"]
)
def test_a_webp_s_size_is_read_from_its_first_bytes(make, size):
    body = make()
    assert len(body) > validation.SNIFF_BYTES
    assert validation.image_dimensions(body[: validation.SNIFF_BYTES]) == size


@pytest.mark.parametrize("broken", [b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 40, b"RIFF\0\0\0\0WEBPVP8L" + b"\0" * 40])
def test_a_webp_whose_header_is_broken_has_no_size(broken):
    assert validation.image_dimensions(broken) is None


def test_every_allowed_type_at_real_size_becomes_available_through_a_worker(user, start_worker):
    start_worker(UPLOADER_DERIVATIVES="1")
    sent = []
    for name, content_type, make, size in FILES:
        body = make()
        upload, instruction = start_upload(user, body, name=name, content_type=content_type)
        assert put_object(instruction, body).status_code == 200, name
        sent.append((upload, size, len(body)))
    assert sum(length > validation.SNIFF_BYTES for _, _, length in sent) == len(FILES)  # past the sniff window

    def decided():
        return not Upload.objects.filter(owner=user, status__in=["pending", "processing"]).exists()

    wait_for(decided, timeout=120, what="every upload decided")
    for upload, size, length in sent:
        upload.refresh_from_db()
        assert (upload.original_filename, upload.status, upload.status_reason) == (
            upload.original_filename,
            "available",
            "",
        )
        assert upload.stored_size == length
        if size:
            assert (upload.width, upload.height) == size, upload.original_filename
