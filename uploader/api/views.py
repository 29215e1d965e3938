"""Views parse, call a service, respond.

Why it is long: each route's OpenAPI description (extend_schema) stands beside its view, so the
schema and the code cannot drift; the views themselves are a few lines each."""

import uuid

from django.http import Http404
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from uploader import services
from uploader.api.authn import bearer_authenticators
from uploader.api.base import AppView
from uploader.api.errors import Refusal
from uploader.api.filters import UploadCursorPagination, UploadFilter, UploadOrdering
from uploader.api.schema import errors
from uploader.api.serializers import (
    BatchCompleteInput,
    BatchCompleteOutput,
    BatchStartInput,
    BatchStartOutput,
    CompleteInput,
    LegacyPresignInput,
    PartsInput,
    SignedPartsOutput,
    StoredPartsOutput,
    UploadOutput,
    UploadStartInput,
    UploadStartOutput,
    validated,
)
from uploader.api.throttles import (
    BatchCompleteItemsThrottle,
    BatchStartItemsThrottle,
    PresignRateThrottle,
    UploadActionThrottle,
)
from uploader.models import Upload
from uploader.services import selectors

ID = OpenApiParameter("upload_id", uuid.UUID, OpenApiParameter.PATH)


def _get_upload(request, upload_id):
    upload = selectors.upload_get_for_user(user=request.user, upload_id=upload_id)
    if upload is None:
        raise Http404
    return upload


class UploadListCreateApi(AppView, generics.ListAPIView):
    serializer_class = UploadOutput
    filterset_class = UploadFilter
    filter_backends = [DjangoFilterBackend, UploadOrdering]  # ours, whatever the host's defaults
    pagination_class = UploadCursorPagination
    throttle_classes = [PresignRateThrottle]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Upload.objects.none()
        return selectors.upload_list(user=self.request.user)

    @extend_schema(summary="Your uploads", responses={200: UploadOutput(many=True), **errors(400, 401)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start an upload: a presigned PUT, or a multipart plan for large files",
        request=UploadStartInput,
        responses={201: UploadStartOutput, **errors(400, 401, 403, 413, 415, 429, 503)},
    )
    def post(self, request):
        fields = validated(UploadStartInput, request.data)
        method = services.Method(fields.pop("method"))
        started = services.upload_start(owner=request.user, method=method, **fields)
        context = {"request": request, "instruction": started.instruction, "url_expires_at": started.url_expires_at}
        return Response(UploadStartOutput(started.upload, context=context).data, status=status.HTTP_201_CREATED)


def _item_error(error: services.DomainError) -> dict:
    refusal = Refusal(error)
    return {"status": refusal.status_code, "error": {"detail": str(refusal.detail), "code": refusal.detail.code}}


class UploadBatchStartApi(AppView, APIView):
    """A folder or a camera roll in one call: each item started, or refused, on its own."""

    throttle_classes = [PresignRateThrottle, BatchStartItemsThrottle]

    @extend_schema(
        summary="Start up to 100 uploads at once",
        request=BatchStartInput,
        responses={200: BatchStartOutput, **errors(400, 401, 429)},
    )
    def post(self, request):
        uploads = validated(BatchStartInput, request.data)["uploads"]
        items = [dict(item, method=services.Method(item["method"])) for item in uploads]
        results = []
        for outcome in services.upload_start_batch(owner=request.user, items=items):
            if isinstance(outcome, services.DomainError):
                results.append(_item_error(outcome))
                continue
            if isinstance(outcome, Upload):  # already uploaded: nothing to send
                results.append({"status": 200, "upload": UploadOutput(outcome).data})
                continue
            context = {"request": request, "instruction": outcome.instruction, "url_expires_at": outcome.url_expires_at}
            results.append({"status": 201, "upload": UploadStartOutput(outcome.upload, context=context).data})
        return Response({"results": results})


class UploadBatchCompleteApi(AppView, APIView):
    """The bytes of many uploads are in: each verified (or refused) on its own."""

    throttle_classes = [UploadActionThrottle, BatchCompleteItemsThrottle]

    @extend_schema(
        summary="Complete up to 100 uploads at once",
        request=BatchCompleteInput,
        responses={200: BatchCompleteOutput, **errors(400, 401, 429)},
    )
    def post(self, request):
        items = validated(BatchCompleteInput, request.data)["uploads"]
        results = []
        for outcome in services.upload_complete_batch(owner=request.user, items=items):
            if isinstance(outcome, services.DomainError):
                results.append(_item_error(outcome))
            else:
                results.append({"status": 202, "upload": UploadOutput(outcome).data})
        return Response({"results": results})


class UploadDetailApi(AppView, APIView):
    throttle_classes = [UploadActionThrottle]
    throttled_methods = {"DELETE"}

    @extend_schema(parameters=[ID], responses={200: UploadOutput, **errors(401, 404)})
    def get(self, request, upload_id):
        return Response(UploadOutput(_get_upload(request, upload_id)).data)

    @extend_schema(parameters=[ID], responses={204: None, **errors(401, 403, 404, 429, 503)})
    def delete(self, request, upload_id):
        services.upload_delete(upload=_get_upload(request, upload_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadDownloadApi(AppView, APIView):
    """A link that always saves the file (the list's `download_url` shows safe types inline)."""

    @extend_schema(
        parameters=[ID],
        summary="Download: a redirect to a short-lived, presigned GET",
        responses={302: None, **errors(401, 404, 409)},
    )
    def get(self, request, upload_id):
        upload = _get_upload(request, upload_id)
        url = selectors.upload_download_url(upload=upload, attachment=True)
        if url is None and upload.status == Upload.Status.AVAILABLE:
            raise services.WrongState(_("A reviewer rejected this upload: it can no longer be downloaded."))
        if url is None:
            raise services.WrongState(_("Only an available upload can be downloaded."))
        return Response(status=status.HTTP_302_FOUND, headers={"Location": url, "Cache-Control": "no-store"})


class UploadPartsApi(AppView, APIView):
    throttle_classes = [UploadActionThrottle]
    throttled_methods = {"GET", "POST"}  # both ask S3

    @extend_schema(
        parameters=[ID],
        summary="Parts S3 already holds (for resuming)",
        responses={200: StoredPartsOutput, **errors(401, 404, 409, 429, 503)},
    )
    def get(self, request, upload_id):
        upload = _get_upload(request, upload_id)
        parts = services.upload_parts(upload=upload)
        body = {"part_size": upload.part_size, "part_count": upload.part_count, "parts": parts}
        return Response(StoredPartsOutput(body).data)

    @extend_schema(
        parameters=[ID],
        summary="Fresh part URLs",
        request=PartsInput,
        responses={200: SignedPartsOutput, **errors(400, 401, 403, 404, 409, 429, 503)},
    )
    def post(self, request, upload_id):
        upload = _get_upload(request, upload_id)
        signed = services.upload_sign_parts(upload=upload, parts=validated(PartsInput, request.data)["parts"])
        return Response(SignedPartsOutput({"parts": signed}).data)


class UploadCompleteApi(AppView, APIView):
    throttle_classes = [UploadActionThrottle]

    @extend_schema(
        parameters=[ID],
        summary="The bytes are in: verify (and finish a multipart upload)",
        request=CompleteInput,
        responses={202: UploadOutput, **errors(400, 401, 403, 404, 409, 429, 503)},
    )
    def post(self, request, upload_id):
        upload = _get_upload(request, upload_id)
        parts = validated(CompleteInput, request.data).get("parts")
        upload = services.upload_complete(upload=upload, parts=services.claimed_parts(parts))
        return Response(UploadOutput(upload).data, status=status.HTTP_202_ACCEPTED)


class UploadAbortApi(AppView, APIView):
    throttle_classes = [UploadActionThrottle]

    @extend_schema(parameters=[ID], request=None, responses={200: UploadOutput, **errors(401, 403, 404, 409, 429, 503)})
    def post(self, request, upload_id):
        upload = services.upload_abort(upload=_get_upload(request, upload_id))
        return Response(UploadOutput(upload).data)


class LegacyPresignApi(AppView, APIView):
    """The original serverless design's call, for clients written against it. It is a GET that
    creates state, so it takes bearer tokens only: a cross-site link cannot ride a session cookie."""

    def get_authenticators(self):
        return bearer_authenticators()  # bearer tokens only: the page calling it is on another origin

    throttle_classes = [PresignRateThrottle]
    throttled_methods = {"GET"}

    @extend_schema(
        summary="Presigned PUT, the original Lambda's way",
        parameters=[LegacyPresignInput],
        responses={
            200: inline_serializer(
                "LegacyPresign", {"uploadURL": serializers.URLField(), "Key": serializers.CharField()}
            ),
            **errors(400, 401, 413, 415, 429, 503),
        },
    )
    def get(self, request):
        data = LegacyPresignInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        started = services.upload_start_legacy(
            owner=request.user, content_type=data.validated_data["content_type"], size=data.validated_data.get("size")
        )
        return Response({"uploadURL": started.instruction["upload"]["url"], "Key": started.upload.key})


class NotFoundApi(AppView, APIView):
    """Any path under the API that no route takes, whatever the method: the API's JSON 404 in the
    caller's language (the site's own 404 is an HTML page). Asks for no credentials: there is
    nothing here to protect, and the answer says nothing of what exists."""

    authentication_classes: list = []
    permission_classes: list = []
    schema = None  # not a route of the API's document

    def initial(self, request, *args, **kwargs):
        raise NotFound
