"""Presigned URLs. A PUT URL pins the key, Content-Type, Content-Length and, when given, the
SHA-256 checksum: S3 refuses a request whose signed headers differ."""

import datetime as dt
import functools
import hashlib
import hmac
import weakref
from urllib.parse import quote, urlsplit, urlunsplit

from botocore.utils import percent_encode
from django.conf import settings
from django.utils.http import content_disposition_header

from uploader import aws
from uploader.aws import callrecord


def presign_put(*, bucket, key, content_type, size, checksum_sha256="", once=True):
    """One PUT of the whole object. The URL is the one botocore's generate_presigned_url makes
    (tests/test_signing.py holds them equal), signed by QuerySigner on the object's URL directly:
    the presign's most frequent call skips the client's request-building machinery."""
    headers = {"Content-Type": content_type}
    if once and settings.UPLOADER_SIGN_IF_NONE_MATCH:
        # The URL can create the object once; a replay cannot overwrite what was verified.
        headers["If-None-Match"] = "*"
    if checksum_sha256:
        headers["x-amz-checksum-sha256"] = checksum_sha256
    signed = {**headers, "Content-Length": str(size)} if size is not None else headers
    url = query_signer().sign("PUT", _object_url(bucket, key), (), signed)
    callrecord.signed_directly(url, signed, "PutObject")
    return {"method": "PUT", "url": url, "headers": headers}


def _object_url(bucket, key):
    """The unsigned URL of an object, as botocore addresses it (endpoint, virtual-hosted or path
    style) and encodes its key: the first time per bucket and client, botocore's own URL for this
    very key and operation, whose path less the encoded key is the bucket's base from then on."""
    client = aws.s3()
    bases = _bases.setdefault(client, {})
    encoded = percent_encode(key, safe="/~")
    if bucket not in bases:
        first = urlsplit(client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}))
        if not first.path.endswith(encoded):  # never seen: no shortcut, but a correct URL
            return urlunsplit((first.scheme, first.netloc, first.path, "", ""))
        bases[bucket] = urlunsplit((first.scheme, first.netloc, first.path.removesuffix(encoded), "", ""))
    return bases[bucket] + encoded


_bases: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # per client: a rebuilt one asks again


def presign_post(*, bucket, key, content_type, size, max_size=None):
    """A browser form upload (presigned POST): the policy pins the exact key, the Content-Type and,
    through `content-length-range`, the size, or (size None) at most `max_size` bytes."""
    low, high = (size, size) if size is not None else (1, max_size)
    post = aws.s3().generate_presigned_post(
        bucket,
        key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", low, high]],
        ExpiresIn=settings.UPLOADER_URL_EXPIRES,
    )
    return {"method": "POST", "url": post["url"], "fields": post["fields"], "headers": {}}


def presign_get(*, bucket, key, filename=None, attachment=False):
    """A short-lived GET that saves under the upload's display name in any script (RFC 6266
    `filename*=utf-8''…` where it is not ASCII), as an attachment unless inline is safe."""
    params = {"Bucket": bucket, "Key": key}
    if filename or attachment:
        params["ResponseContentDisposition"] = content_disposition_header(attachment, filename or "download")
    return aws.s3().generate_presigned_url(
        "get_object", Params=params, ExpiresIn=settings.UPLOADER_DOWNLOAD_URL_EXPIRES
    )


def presign_part(*, bucket, key, upload_id, part_number, size, checksum_sha256):
    """One part's PUT: pins its length and SHA-256, which S3 checks before storing it."""
    params = {
        "Bucket": bucket,
        "Key": key,
        "UploadId": upload_id,
        "PartNumber": part_number,
        "ContentLength": size,
        "ChecksumSHA256": checksum_sha256,
    }
    url = aws.s3().generate_presigned_url(
        "upload_part", Params=params, ExpiresIn=settings.UPLOADER_URL_EXPIRES, HttpMethod="PUT"
    )
    return {"part_number": part_number, "url": url, "headers": {"x-amz-checksum-sha256": checksum_sha256}}


def presign_open_part(*, bucket, key, upload_id, part_number):
    """A part's PUT for a client that tells neither the part's length nor its checksum (Uppy's
    Companion protocol): only the key, the upload and the part number are pinned; the total is
    checked before the upload is completed and again by the worker."""
    params = {"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number}
    return aws.s3().generate_presigned_url(
        "upload_part", Params=params, ExpiresIn=settings.UPLOADER_URL_EXPIRES, HttpMethod="PUT"
    )


def presign_parts(*, bucket, key, upload_id, parts):
    """Many parts' PUTs, each pinning its length and SHA-256, for a fraction of botocore's
    generate_presigned_url each: every part is the object's URL (botocore's own, as presign_put
    takes it) with its number and upload, signed by QuerySigner. tests/test_signing.py holds each
    equal to presign_part's. `parts` is [(part_number, size, checksum_sha256)]; a 1 GiB upload has 16."""
    base_url, signer = _object_url(bucket, key), query_signer()
    signed = []
    for number, size, checksum in parts:
        headers = {"Content-Length": str(size), "x-amz-checksum-sha256": checksum}
        url = signer.sign("PUT", base_url, (("partNumber", str(number)), ("uploadId", upload_id)), headers)
        callrecord.signed_directly(url, headers, "UploadPart")
        signed.append({"part_number": number, "url": url, "headers": {"x-amz-checksum-sha256": checksum}})
    return signed


def query_signer():
    """A QuerySigner with the clients' credentials as of now and their region."""
    return QuerySigner(aws.frozen_credentials(), aws.s3().meta.region_name, settings.UPLOADER_URL_EXPIRES)


class QuerySigner:
    """Signature Version 4 in the query string (a presigned URL) for S3: what botocore's
    S3SigV4QueryAuth computes, byte for byte (tests/test_signing.py compares the two at the same
    instant), without its request object, its URL parsing three times over and its HTTPHeaders.
    A 1 GiB upload signs 16 part URLs and every presign one PUT; botocore's signer was the largest
    part of a part-URL request's CPU (README, Benchmarks). Only what those URLs need: a PUT to a
    path-encoded object URL, operation parameters, signed headers, UNSIGNED-PAYLOAD."""

    def __init__(self, credentials, region, expires):
        self.credentials, self.region, self.expires = credentials, region, expires

    def sign(self, method, url, params, headers, now=None):
        """`url` is scheme://host/path with the key already encoded (no query); `params` are the
        operation's (name, value) pairs, before the authentication's; `headers` are signed."""
        now = now or dt.datetime.now(dt.UTC)
        timestamp = now.strftime("%Y%m%dT%H%M%SZ")
        scope = f"{timestamp[:8]}/{self.region}/s3/aws4_request"
        parts = urlsplit(url)
        signed = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
        signed.setdefault("host", _host(parts))
        names = sorted(signed)
        auth = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{self.credentials.access_key}/{scope}"),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", str(self.expires)),
            ("X-Amz-SignedHeaders", ";".join(names)),
            *([("X-Amz-Security-Token", self.credentials.token)] if self.credentials.token is not None else []),
        ]
        pairs = [(_encode(name), _encode(value)) for name, value in (*params, *auth)]
        canonical = "\n".join(
            (
                method,
                parts.path or "/",
                "&".join(f"{name}={value}" for name, value in sorted(pairs)),
                "".join(f"{name}:{signed[name]}\n" for name in names),
                ";".join(names),
                "UNSIGNED-PAYLOAD",
            )
        )
        to_sign = f"AWS4-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._key(timestamp[:8]), to_sign.encode(), hashlib.sha256).hexdigest()
        query = "&".join(f"{name}={value}" for name, value in pairs)
        return f"{url}?{query}&X-Amz-Signature={signature}"

    def _key(self, date):
        return _signing_key(self.credentials.secret_key, date, self.region)


@functools.lru_cache(maxsize=16)
def _signing_key(secret, date, region):
    key = f"AWS4{secret}".encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _encode(value):
    return quote(str(value), safe="-_.~")


def _host(parts):
    """The Host header botocore signs: lowercase, the port unless it is the scheme's default."""
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host
