import io
import json

from django.contrib.auth import get_user_model
from PIL import Image


def make_user(username="alice", password="pw-alice-123", **extra):
    return get_user_model().objects.create_user(username, f"{username}@example.com", password, **extra)


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
