"""Presigned URLs. A PUT URL pins the key, Content-Type, Content-Length and, when given, the
SHA-256 checksum: S3 refuses a request whose signed headers differ."""

import weakref
from urllib.parse import urlencode, urlsplit, urlunsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.utils import percent_encode
from django.conf import settings
from django.utils.http import content_disposition_header

from uploader import aws
from uploader.aws import callrecord


def presign_put(*, bucket, key, content_type, size, checksum_sha256="", once=True):
    """One PUT of the whole object. The URL is the one botocore's generate_presigned_url makes
    (tests/test_signing.py holds them equal), signed by botocore's S3SigV4QueryAuth on the object's
    URL directly: the presign's most frequent call skips the client's request-building machinery,
    a third of the presign's own time when profiled."""
    headers = {"Content-Type": content_type}
    if once and settings.UPLOADER_SIGN_IF_NONE_MATCH:
        # The URL can create the object once; a replay cannot overwrite what was verified.
        headers["If-None-Match"] = "*"
    if checksum_sha256:
        headers["x-amz-checksum-sha256"] = checksum_sha256
    signed = {**headers, "Content-Length": str(size)} if size is not None else headers
    request = AWSRequest(method="PUT", url=_object_url(bucket, key), headers=signed)
    _signer().add_auth(request)
    callrecord.signed_directly(request, "PutObject")  # what botocore's own path would have recorded
    return {"method": "PUT", "url": request.url, "headers": headers}


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


def _signer():
    return S3SigV4QueryAuth(
        aws.frozen_credentials(), "s3", aws.s3().meta.region_name, expires=settings.UPLOADER_URL_EXPIRES
    )


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
    takes it) with its number and upload, signed by botocore's S3SigV4QueryAuth.
    tests/test_signing.py holds each equal to presign_part's. `parts` is [(part_number, size,
    checksum_sha256)]; a 1 GiB upload has 16."""
    base_url = _object_url(bucket, key)
    signer = _signer()
    signed = []
    for number, size, checksum in parts:
        request = AWSRequest(
            method="PUT",
            url=f"{base_url}?{urlencode({'partNumber': number, 'uploadId': upload_id})}",
            headers={"Content-Length": str(size), "x-amz-checksum-sha256": checksum},
        )
        signer.add_auth(request)
        callrecord.signed_directly(request, "UploadPart")
        signed.append({"part_number": number, "url": request.url, "headers": {"x-amz-checksum-sha256": checksum}})
    return signed
