"""Uppy Companion's S3 routes, so that stock Uppy (`@uppy/aws-s3` with nothing but
`companionEndpoint`) uploads here: a presigned POST form for a small file, a multipart upload for
a large one. They run on the same services as the rest of the API (policy, quota, state machine,
the worker's checks). The protocol tells neither the file's size nor a checksum, so these uploads
are held to `validation.unsized_limit()` (see `services.upload_start_unsized`).

Uppy sends the session cookie and no CSRF token: a session-authenticated call must come from this
site, in the browser's own words (`Sec-Fetch-Site`, else `Origin`)."""

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from uploader import services
from uploader.api.authn import SameOriginSessionAuthentication, bearer_authenticators
from uploader.api.base import AppView
from uploader.api.throttles import PresignRateThrottle, UploadActionThrottle
from uploader.services import selectors


class CompanionApi(AppView, APIView):
    def get_authenticators(self):
        return [*bearer_authenticators(), SameOriginSessionAuthentication()]

    throttle_classes = [UploadActionThrottle]
    throttled_methods = {"POST", "DELETE"}


class StartInput(serializers.Serializer):
    filename = serializers.CharField(max_length=1024)
    type = serializers.CharField(max_length=255)


# What Uppy puts in every file's meta on its own; the rest is the page's (its metaFields).
_UPPY_META = {"name", "type", "relativePath", "destination"}


def _start(request, data, *, in_parts):
    """Start what Uppy asks for: its `filename` and `type`, and its file's meta, from the query
    (params: `metadata[key]`) or the JSON body (multipart: `metadata`). The meta's `destination`
    chooses the destination, the rest beside Uppy's own keys is the upload's metadata."""
    parsed = StartInput(data={"filename": data.get("filename", ""), "type": data.get("type", "")})
    parsed.is_valid(raise_exception=True)
    meta = data.get("metadata")
    if not isinstance(meta, dict):  # the query's metadata[key]=value pairs
        meta = {key[9:-1]: value for key, value in data.items() if key.startswith("metadata[") and key.endswith("]")}
    destination = meta.get("destination") or data.get("destination") or ""
    return services.upload_start_unsized(
        owner=request.user,
        filename=parsed.validated_data["filename"],
        content_type=parsed.validated_data["type"],
        in_parts=in_parts,
        destination=destination if isinstance(destination, str) else "",
        metadata={key: value for key, value in meta.items() if key not in _UPPY_META},
    )


def _multipart_upload(request, upload_id):
    upload = selectors.upload_get_by_key(
        user=request.user, key=request.query_params.get("key", ""), multipart_upload_id=upload_id
    )
    if upload is None:
        raise Http404
    return upload


@extend_schema(exclude=True)  # Uppy's protocol, documented in the README, not part of our API's contract
class ParamsApi(CompanionApi):
    """GET /s3/params: a presigned POST form for one file."""

    throttle_classes = [PresignRateThrottle]
    throttled_methods = {"GET"}

    def get(self, request):
        _upload, instruction = _start(request, request.query_params, in_parts=False)
        return Response(instruction["upload"])  # {method: "POST", url, fields, headers}, as Companion answers


@extend_schema(exclude=True)
class MultipartCreateApi(CompanionApi):
    """POST /s3/multipart: start a multipart upload; answers its key and S3's upload id."""

    throttle_classes = [PresignRateThrottle]

    def post(self, request):
        upload, _instruction = _start(request, request.data, in_parts=True)
        return Response({"key": upload.key, "uploadId": upload.multipart_upload_id})


@extend_schema(exclude=True)
class MultipartApi(CompanionApi):
    """GET lists the parts S3 holds; DELETE aborts (the upload ends `expired`)."""

    throttled_methods = {"GET", "DELETE"}  # both ask S3

    def get(self, request, upload_id):
        parts = services.upload_parts(upload=_multipart_upload(request, upload_id))
        return Response([{"PartNumber": p.number, "Size": p.size, "ETag": p.etag} for p in parts])

    def delete(self, request, upload_id):
        services.upload_abort(upload=_multipart_upload(request, upload_id))
        return Response({})


@extend_schema(exclude=True)
class MultipartPartApi(CompanionApi):
    """GET /s3/multipart/{uploadId}/{partNumber}: one part's presigned PUT."""

    def get(self, request, upload_id, part_number):
        upload = _multipart_upload(request, upload_id)
        url = services.upload_sign_open_part(upload=upload, part_number=part_number)
        return Response({"url": url, "expires": settings.UPLOADER_URL_EXPIRES})


class CompletedPart(serializers.Serializer):
    PartNumber = serializers.IntegerField(min_value=1, max_value=10_000)
    ETag = serializers.CharField(max_length=128)


class CompleteInput(serializers.Serializer):
    parts = CompletedPart(many=True, allow_empty=False)


@extend_schema(exclude=True)
class MultipartCompleteApi(CompanionApi):
    """POST /s3/multipart/{uploadId}/complete: the parts are checked against S3's list and the
    allowance, the object is assembled, and the worker verifies it as any other upload."""

    def post(self, request, upload_id):
        upload = _multipart_upload(request, upload_id)
        data = CompleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        claimed = [(p["PartNumber"], p["ETag"]) for p in data.validated_data["parts"]]
        upload = services.upload_complete(upload=upload, parts=claimed)
        return Response({"location": f"/api/v1/uploads/{upload.pk}/", "key": upload.key, "bucket": upload.bucket})
