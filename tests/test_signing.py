"""The presigned PUT's rules are enforced by the store itself (the emulator runs with AUTH=true)."""

import base64
import hashlib
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from uploader import aws
from uploader.aws import signing

from .helpers import put_object, wait_past_expiry

BODY = b"exactly these bytes"


@pytest.fixture
def key(aws_resources):
    return f"uploads/1/{uuid.uuid4()}/a.txt"


def _presign(bucket, key, **kwargs):
    return signing.presign_put(bucket=bucket, key=key, content_type="text/plain", size=len(BODY), **kwargs)


def test_url_is_sigv4_and_pins_type_and_length(aws_resources, key):
    query = parse_qs(urlsplit(_presign(aws_resources, key)["url"]).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert set(query["X-Amz-SignedHeaders"][0].split(";")) >= {"content-length", "content-type", "host"}
    assert query["X-Amz-Expires"] == ["300"]


def test_the_declared_body_is_accepted(aws_resources, key):
    assert put_object(_presign(aws_resources, key), BODY).status_code == 200
    assert aws.s3().get_object(Bucket=aws_resources, Key=key)["Body"].read() == BODY


def test_a_larger_body_is_refused(aws_resources, key):
    assert put_object(_presign(aws_resources, key), BODY + b"!").status_code == 403


def test_another_content_type_is_refused(aws_resources, key):
    assert put_object(_presign(aws_resources, key), BODY, **{"Content-Type": "text/html"}).status_code == 403


def test_a_tampered_signature_is_refused(aws_resources, key):
    instruction = _presign(aws_resources, key)
    url = instruction["url"]
    sig_at = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    flipped = "0" if url[sig_at] != "0" else "1"
    instruction = {**instruction, "url": url[:sig_at] + flipped + url[sig_at + 1 :]}
    assert put_object(instruction, BODY).status_code == 403


def test_the_url_writes_only_its_own_key(aws_resources, key):
    instruction = _presign(aws_resources, key)
    other = instruction["url"].replace("/a.txt?", "/b.txt?")
    assert put_object({**instruction, "url": other}, BODY).status_code == 403


def test_an_expired_url_is_refused(aws_resources, key, settings):
    settings.UPLOADER_URL_EXPIRES = 1
    instruction = _presign(aws_resources, key)
    wait_past_expiry(instruction["url"])
    assert put_object(instruction, BODY).status_code == 403


def test_a_declared_checksum_is_enforced(aws_resources, key):
    good = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    bad = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    assert put_object(_presign(aws_resources, key, checksum_sha256=bad), BODY).status_code in (400, 403)
    instruction = _presign(aws_resources, key, checksum_sha256=good)
    without_header = {k: v for k, v in instruction["headers"].items() if k != "x-amz-checksum-sha256"}
    assert put_object({**instruction, "headers": without_header}, BODY).status_code == 403
    assert put_object(instruction, BODY).status_code == 200


def test_a_url_cannot_be_replayed_to_overwrite_the_object(aws_resources, key):
    instruction = _presign(aws_resources, key)
    assert instruction["headers"]["If-None-Match"] == "*"
    assert put_object(instruction, BODY).status_code == 200
    replay = put_object(instruction, b"x" * len(BODY))
    assert replay.status_code in (403, 412)
    assert aws.s3().get_object(Bucket=aws_resources, Key=key)["Body"].read() == BODY
    without = {k: v for k, v in instruction["headers"].items() if k != "If-None-Match"}
    assert put_object({**instruction, "headers": without}, BODY).status_code == 403  # it is signed


def _sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_batch_part_urls_are_botocores_own_and_the_store_enforces_them(aws_resources):
    key = f"uploads/1/{uuid.uuid4()}/ü f+.bin"  # a key that needs encoding
    upload_id = aws.s3().create_multipart_upload(Bucket=aws_resources, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
    chunks = [bytes([n]) * 1024 for n in range(1, 4)]
    parts = [(n, len(c), _sha256_b64(c)) for n, c in enumerate(chunks, start=1)]
    batch = signing.presign_parts(bucket=aws_resources, key=key, upload_id=upload_id, parts=parts)
    for (number, size, checksum), signed in zip(parts, batch, strict=True):
        one = signing.presign_part(
            bucket=aws_resources, key=key, upload_id=upload_id, part_number=number, size=size, checksum_sha256=checksum
        )
        fast, slow = urlsplit(signed["url"]), urlsplit(one["url"])
        assert (fast.netloc, fast.path) == (slow.netloc, slow.path)
        same = {k: v for k, v in parse_qs(fast.query).items() if k not in ("X-Amz-Date", "X-Amz-Signature")}
        assert same == {k: v for k, v in parse_qs(slow.query).items() if k not in ("X-Amz-Date", "X-Amz-Signature")}
        assert signed["headers"] == one["headers"]
    # The store takes each part as signed, and refuses other bytes or another length.
    assert put_object({"method": "PUT", **batch[1]}, bytes([9]) * 1024).status_code in (400, 403)
    assert put_object({"method": "PUT", **batch[1]}, chunks[1] + b"x").status_code == 403
    for signed, chunk in zip(batch, chunks, strict=True):
        assert put_object({"method": "PUT", **signed}, chunk).status_code == 200
    aws.s3().abort_multipart_upload(Bucket=aws_resources, Key=key, UploadId=upload_id)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("a.txt", {}),
        ("ü f+&=?#%.txt", {"checksum_sha256": _sha256_b64(BODY)}),  # a name that needs encoding
        ("b.txt", {"once": False}),
    ],
)
def test_the_put_url_is_botocores_own_and_the_store_takes_it(aws_resources, name, options):
    """presign_put signs the object's URL directly: every parameter botocore's generate_presigned_url
    would put in it is there, and the store takes the declared body through it."""
    key = f"uploads/1/{uuid.uuid4()}/{name}"
    fast = signing.presign_put(bucket=aws_resources, key=key, content_type="text/plain", size=len(BODY), **options)
    params = {"Bucket": aws_resources, "Key": key, "ContentType": "text/plain", "ContentLength": len(BODY)}
    if options.get("once", True):
        params["IfNoneMatch"] = "*"
    if "checksum_sha256" in options:
        params["ChecksumSHA256"] = options["checksum_sha256"]
    slow = aws.s3().generate_presigned_url("put_object", Params=params, ExpiresIn=300, HttpMethod="PUT")
    ours, theirs = urlsplit(fast["url"]), urlsplit(slow)
    assert (ours.scheme, ours.netloc, ours.path) == (theirs.scheme, theirs.netloc, theirs.path)
    unsigned = ("X-Amz-Date", "X-Amz-Signature")
    assert {k: v for k, v in parse_qs(ours.query).items() if k not in unsigned} == {
        k: v for k, v in parse_qs(theirs.query).items() if k not in unsigned
    }
    assert put_object(fast, BODY).status_code == 200
    assert aws.s3().head_object(Bucket=aws_resources, Key=key)["ContentLength"] == len(BODY)


@pytest.mark.parametrize(
    ("url", "params", "headers", "token"),
    [
        ("http://127.0.0.1:4566/bucket/uploads/1/u/%C3%BC%20f%2B%26.bin", (), {"Content-Type": "text/plain",
         "Content-Length": "19", "If-None-Match": "*", "x-amz-checksum-sha256": "AAAA+/=="}, None),
        ("https://Bucket.S3.amazonaws.com/uploads/1/u/a.txt", (("partNumber", "7"), ("uploadId", "a.b_c-d~e/f+g= h")),
         {"Content-Length": "5", "x-amz-checksum-sha256": "x"}, "session/token+="),
        ("https://s3.eu-west-1.amazonaws.com:8443/b/k", (), {"Content-Type": "  image/jpeg   ; q=1 "}, None),
    ],
)  # fmt: skip
def test_the_query_signer_signs_as_botocore_does(url, params, headers, token):
    """Byte for byte what botocore's S3SigV4QueryAuth makes of the same request at the same instant."""
    import datetime as dt
    from urllib.parse import urlencode

    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import ReadOnlyCredentials

    credentials = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    request = AWSRequest(method="PUT", url=f"{url}?{urlencode(params)}" if params else url, headers=dict(headers))
    S3SigV4QueryAuth(credentials, "s3", "eu-west-1", expires=300).add_auth(request)
    instant = dt.datetime.strptime(parse_qs(urlsplit(request.url).query)["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
    ours = signing.QuerySigner(credentials, "eu-west-1", 300).sign("PUT", url, params, headers, now=instant)
    assert ours == request.url
