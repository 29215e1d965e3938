"""The upload rules are enforced by the store itself, proven on two independent S3 servers: the
local emulator (AUTH=true) and SeaweedFS. Each request below is refused by the store, not by us."""

import uuid
from types import SimpleNamespace

import pytest
import requests

from uploader import aws
from uploader.aws import signing

from . import seaweed
from .helpers import put_object, wait_past_expiry

BODY = b"exactly these bytes"


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    proc, endpoint = seaweed.start(tmp_path_factory.mktemp("seaweedfs"))
    yield endpoint
    seaweed.stop(proc)


@pytest.fixture(params=["ministack", "seaweedfs"])
def store(request, settings, aws_resources):
    if request.param == "seaweedfs":
        endpoint = request.getfixturevalue("seaweedfs")
        settings.AWS_ENDPOINT_URL_S3 = endpoint
        settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY = seaweed.ACCESS_KEY, seaweed.SECRET_KEY
        bucket = "security"
        if bucket not in [b["Name"] for b in aws.s3().list_buckets().get("Buckets", [])]:
            aws.s3().create_bucket(Bucket=bucket)
    else:
        bucket = aws_resources
    return SimpleNamespace(name=request.param, bucket=bucket, settings=settings)


def _put_url(store, key, **kwargs):
    return signing.presign_put(bucket=store.bucket, key=key, content_type="text/plain", size=len(BODY), **kwargs)


def _key():
    return f"uploads/7/{uuid.uuid4()}/a.txt"


def _stored(store, key):
    try:
        return aws.s3().get_object(Bucket=store.bucket, Key=key)["Body"].read()
    except aws.s3().exceptions.NoSuchKey:
        return None


def test_the_signed_put_is_accepted(store):
    key = _key()
    assert put_object(_put_url(store, key), BODY).status_code == 200
    assert _stored(store, key) == BODY


def test_a_tampered_signature_is_refused(store):
    instruction = _put_url(store, _key())
    url = instruction["url"]
    at = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    tampered = url[:at] + ("0" if url[at] != "0" else "1") + url[at + 1 :]
    assert put_object({**instruction, "url": tampered}, BODY).status_code == 403


def test_an_expired_url_is_refused(store):
    store.settings.UPLOADER_URL_EXPIRES = 1
    key = _key()
    instruction = _put_url(store, key)
    wait_past_expiry(instruction["url"])
    assert put_object(instruction, BODY).status_code == 403
    assert _stored(store, key) is None


def test_a_url_signed_with_another_key_is_refused(store):
    store.settings.AWS_ACCESS_KEY_ID, store.settings.AWS_SECRET_ACCESS_KEY = "AKIAUNKNOWNKEY000000", "not-a-secret"
    assert put_object(_put_url(store, _key()), BODY).status_code == 403


def test_another_content_type_is_refused(store):
    assert put_object(_put_url(store, _key()), BODY, **{"Content-Type": "text/html"}).status_code == 403


def test_another_size_is_refused(store):
    key = _key()
    assert put_object(_put_url(store, key), BODY + b"!").status_code == 403
    assert put_object(_put_url(store, key), BODY[:-1]).status_code in (400, 403)
    assert _stored(store, key) is None


def test_a_replayed_url_cannot_overwrite(store):
    key = _key()
    instruction = _put_url(store, key)
    assert put_object(instruction, BODY).status_code == 200
    assert put_object(instruction, BODY.upper()).status_code == 412
    assert _stored(store, key) == BODY


def test_a_presigned_post_holds_its_content_length_range_type_and_key(store):
    key = _key()
    post = signing.presign_post(bucket=store.bucket, key=key, content_type="text/plain", size=len(BODY))

    def send(body, **field_overrides):
        fields = {**post["fields"], **field_overrides}
        return requests.post(post["url"], data=fields, files={"file": ("a.txt", body)}, timeout=30)

    assert send(BODY + b"more").status_code == 400  # EntityTooLarge
    assert send(BODY, **{"Content-Type": "text/html"}).status_code == 403
    assert send(BODY, key=key.replace("a.txt", "b.txt")).status_code == 403
    assert send(BODY).status_code in (200, 204)
    assert _stored(store, key) == BODY
