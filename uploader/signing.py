"""Presigned URLs. A PUT URL pins the key, Content-Type, Content-Length and, when given, the
SHA-256 checksum: S3 refuses a request whose signed headers differ."""

from django.conf import settings

from . import aws

# Served inline (shown or played by the browser); anything else, SVG and HTML included, downloads.
INLINE_SAFE_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "text/plain",
    "video/mp4", "video/quicktime", "audio/mpeg",
})


def presign_put(*, bucket, key, content_type, size, checksum_sha256="", once=True):
    params = {"Bucket": bucket, "Key": key, "ContentType": content_type}
    headers = {"Content-Type": content_type}
    if size is not None:
        params["ContentLength"] = size
    if once and settings.UPLOADER_SIGN_IF_NONE_MATCH:
        # The URL can create the object once; a replay cannot overwrite what was verified.
        params["IfNoneMatch"] = "*"
        headers["If-None-Match"] = "*"
    if checksum_sha256:
        params["ChecksumSHA256"] = checksum_sha256
        headers["x-amz-checksum-sha256"] = checksum_sha256
    url = aws.s3().generate_presigned_url(
        "put_object", Params=params, ExpiresIn=settings.UPLOADER_URL_EXPIRES, HttpMethod="PUT"
    )
    return {"method": "PUT", "url": url, "headers": headers}


def presign_post(*, bucket, key, content_type, size):
    """A browser form upload (presigned POST): the policy pins the exact key, the Content-Type and,
    through `content-length-range`, the size."""
    post = aws.s3().generate_presigned_post(
        bucket,
        key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
        ExpiresIn=settings.UPLOADER_URL_EXPIRES,
    )
    return {"method": "POST", "url": post["url"], "fields": post["fields"], "headers": {}}


def presign_get(*, bucket, key, filename=None, attachment=False):
    params = {"Bucket": bucket, "Key": key}
    if attachment:
        safe = (filename or "download").replace('"', "")
        params["ResponseContentDisposition"] = f'attachment; filename="{safe}"'
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
