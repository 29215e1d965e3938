"""Views parse, call a service, respond."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from .serializers import UploadOutput, UploadStartInput, UploadStartOutput


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


class UploadCompleteApi(APIView):
    @extend_schema(request=None, responses={202: UploadOutput})
    def post(self, request, upload_id):
        upload = services.upload_complete(upload=_get_upload(request, upload_id))
        return Response(UploadOutput(upload).data, status=status.HTTP_202_ACCEPTED)


class UploadAbortApi(APIView):
    @extend_schema(request=None, responses=UploadOutput)
    def post(self, request, upload_id):
        upload = services.upload_abort(upload=_get_upload(request, upload_id))
        return Response(UploadOutput(upload).data)
