import datetime as dt
import io
import json
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from PIL import Image


def make_user(username="alice", password="pw-alice-123", **extra):
    return get_user_model().objects.create_user(username, f"{username}@example.com", password, **extra)


def upload_record(owner, destination="avatars", status="available"):
    """A JPEG upload's row alone (no object), for what is decided from the record."""
    from uploader.models import Upload

    return Upload.objects.create(
        owner=owner,
        bucket=settings.UPLOADER_BUCKET,
        key=f"uploads/{destination}/{owner.pk}/{uuid.uuid4()}/x.jpg",
        original_filename="x.jpg",
        content_type="image/jpeg",
        size=10,
        status=status,
        destination=destination,
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )


def jpeg_bytes(width=64, height=48, color=(200, 30, 30)):
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "JPEG")
    return buf.getvalue()


def png_bytes(width=8, height=8):
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (0, 90, 200)).save(buf, "PNG")
    return buf.getvalue()


def s3_event_body(*, bucket, key, name="ObjectCreated:Put", size=0, etag="", sequencer="00A"):
    """A notification body shaped like S3's, with the key URL-encoded as S3 encodes it."""
    from urllib.parse import quote_plus

    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": name,
        "s3": {
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag, "sequencer": sequencer},
        },
    }
    return json.dumps({"Records": [record]})


def webm_bytes(payload=b"\x00" * 64):
    """The start of a WebM file: an EBML header naming the `webm` doctype, then a Segment of
    unknown size (what a MediaRecorder stream begins with)."""
    header = (
        b"\x42\x86\x81\x01"  # EBMLVersion 1
        b"\x42\xf7\x81\x01"  # EBMLReadVersion 1
        b"\x42\xf2\x81\x04"  # EBMLMaxIDLength 4
        b"\x42\xf3\x81\x08"  # EBMLMaxSizeLength 8
        b"\x42\x82\x84webm"  # DocType
        b"\x42\x87\x81\x04"  # DocTypeVersion 4
        b"\x42\x85\x81\x02"  # DocTypeReadVersion 2
    )
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(header)]) + header + b"\x18\x53\x80\x67\x01" + b"\xff" * 7 + payload


def mp4_bytes(payload=b"\x00" * 64):
    """The start of an MP4 file: its `ftyp` box."""
    ftyp = b"ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
    return (len(ftyp) + 4).to_bytes(4, "big") + ftyp + payload


def photo_with_exif(width=400, height=200, orientation=6):
    """A JPEG as a phone writes it: stored sideways with an EXIF orientation (6: turn 90° clockwise
    to show) and a GPS position, the metadata a thumbnail must not keep."""
    image = Image.new("RGB", (width, height), (30, 90, 200))
    image.paste((250, 200, 0), (0, 0, width // 4, height))  # a yellow band on the stored left edge
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (37.0, 33.0, 59.0), 3: "E", 4: (126.0, 58.0, 40.0)}  # GPSInfo: Seoul
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def heic_bytes(width=64, height=48):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 160, 60)).save(out, "HEIF")
    return out.getvalue()


def png_bomb(width=30_000, height=30_000):
    """A PNG of zeros whose header promises width x height pixels: a few hundred kilobytes on the
    wire, gigabytes once decoded."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor, rows = zlib.compressobj(9), []
    row = b"\x00" * (width + 1)  # filter byte + one byte a pixel (greyscale)
    rows = [compressor.compress(row) for _ in range(height)]
    data = b"".join(rows) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


class _Stream(io.RawIOBase):
    """A write-only, unseekable output: a muxer cannot go back to write the duration."""

    def __init__(self):
        super().__init__()
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, data):
        self.data += data
        return len(data)

    def getvalue(self):
        return bytes(self.data)


def webm_video(seconds=2.0, width=320, height=240, fps=10, gap=None, streamed=False, wrapper="webm", codec="libvpx"):
    """A real VP8 WebM (PyAV), or another container (`wrapper`) and `codec` (an MP4 of H.264 keeps its index
    at the end, as phones write it). With `gap`, two frames `gap` seconds apart: a long video in a
    few kilobytes. `streamed`: written as MediaRecorder writes, with no duration in its header."""
    import av

    out = _Stream() if streamed else io.BytesIO()
    with av.open(out, "w", format=wrapper) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libvpx":
            stream.options = {"deadline": "realtime", "cpu-used": "8"}  # fast: long ones are made for the bench
        times = [0, gap] if gap else [i / fps for i in range(int(seconds * fps))]
        for i, at in enumerate(times):
            shade = (40 + 200 * i // max(len(times), 1)) % 256
            frame = av.VideoFrame.from_image(Image.new("RGB", (width, height), (shade, 80, 160)))
            frame.pts = round(at * fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


def portrait_phone_video(width=320, height=240, seconds=1.0, fps=10):
    """An MP4 stored landscape (left half red, right half blue) whose track header says "turn 90
    degrees clockwise to play", as a phone held upright records: played, red is on top."""
    import struct

    import av

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        picture = Image.new("RGB", (width, height), (0, 0, 220))
        picture.paste((220, 0, 0), (0, 0, width // 2, height))
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_image(picture)
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    data = bytearray(out.getvalue())
    matrix = data.index(b"tkhd") + 44  # version 0: after the flags, times, track id, duration, layer, volume
    data[matrix : matrix + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    return bytes(data)


def mp3_audio(seconds=2.0, rate=44100):
    """A real MP3 (PyAV, LAME) of silence."""
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
        for start in range(0, int(seconds * rate), 1152):
            frame = av.AudioFrame(format="s16p", layout="mono", samples=1152)
            frame.planes[0].update(bytes(frame.planes[0].buffer_size))
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


def webm_audio(seconds=1.5, rate=48000):
    """A real Opus WebM (PyAV): a 440 Hz tone."""
    import array
    import math

    import av

    out = io.BytesIO()
    with av.open(out, "w", format="webm") as container:
        stream = container.add_stream("libopus", rate=rate, layout="mono")
        block = 960
        for start in range(0, int(seconds * rate), block):
            frame = av.AudioFrame(format="s16", layout="mono", samples=block)
            phase = (2 * math.pi * 440 * (start + i) / rate for i in range(block))
            tone = array.array("h", (int(9000 * math.sin(p)) for p in phase))
            frame.planes[0].update(tone.tobytes())
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()
