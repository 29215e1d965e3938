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
