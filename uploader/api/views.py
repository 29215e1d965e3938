"""Views parse, call a service, respond."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from .serializers import (
    CompleteInput,
    PartsInput,
    SignedPartsOutput,
    StoredPartsOutput,
    UploadOutput,
    UploadStartInput,
    UploadStartOutput,
)


def _get_upload(request, upload_id):
    upload = selectors.upload_get_for_user(user=request.user, upload_id=upload_id)
    if upload is None:
        raise Http404
    return upload


class UploadListCreateApi(generics.ListAPIView):
    serializer_class = UploadOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="pending, processing, available, rejected, expired"),
            OpenApiParameter("type", str, description="a content type, or a family such as image/*"),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        return selectors.upload_list(
            user=self.request.user, status=params.get("status"), content_type=params.get("type")
        )

    @extend_schema(request=UploadStartInput, responses={201: UploadStartOutput})
    def post(self, request):
        data = UploadStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload, instruction, url_expires_at = services.upload_start(owner=request.user, **data.validated_data)
        context = {"request": request, "instruction": instruction, "url_expires_at": url_expires_at}
        return Response(UploadStartOutput(upload, context=context).data, status=status.HTTP_201_CREATED)


class UploadDetailApi(APIView):
    @extend_schema(responses=UploadOutput)
    def get(self, request, upload_id):
        return Response(UploadOutput(_get_upload(request, upload_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, upload_id):
        services.upload_delete(upload=_get_upload(request, upload_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadPartsApi(APIView):
    @extend_schema(responses=StoredPartsOutput, summary="Parts S3 already holds (for resuming)")
    def get(self, request, upload_id):
        upload = _get_upload(request, upload_id)
        parts = services.upload_parts(upload=upload)
        body = {"part_size": upload.part_size, "part_count": upload.part_count, "parts": parts}
        return Response(StoredPartsOutput(body).data)

    @extend_schema(request=PartsInput, responses=SignedPartsOutput, summary="Fresh part URLs")
    def post(self, request, upload_id):
        upload = _get_upload(request, upload_id)
        data = PartsInput(data=request.data)
        data.is_valid(raise_exception=True)
        signed = services.upload_sign_parts(upload=upload, parts=data.validated_data["parts"])
        return Response(SignedPartsOutput({"parts": signed}).data)


class UploadCompleteApi(APIView):
    @extend_schema(request=CompleteInput, responses={202: UploadOutput})
    def post(self, request, upload_id):
        upload = _get_upload(request, upload_id)
        data = CompleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        claimed = data.validated_data.get("parts")
        if claimed is not None:
            claimed = [(p["part_number"], p["etag"]) for p in claimed]
        upload = services.upload_complete(upload=upload, parts=claimed)
        return Response(UploadOutput(upload).data, status=status.HTTP_202_ACCEPTED)


class UploadAbortApi(APIView):
    @extend_schema(request=None, responses=UploadOutput)
    def post(self, request, upload_id):
        upload = services.upload_abort(upload=_get_upload(request, upload_id))
        return Response(UploadOutput(upload).data)
