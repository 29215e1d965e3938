"""Bench-only views. The proxied upload is the baseline the direct path is measured against: the
bytes pass through Django on their way to S3, as a naive upload view would do it."""

import uuid

from django.conf import settings
from django.http import JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as app_urls
from uploader import aws
from uploader.aws import signing
from uploader.models import Upload


class Ping(APIView):
    """The same authentication and permission as the API, and nothing else."""

    def get(self, request):
        return Response({"ok": True})


class BarePresign(APIView):
    """The least a presign can do: the same authentication, one INSERT, one presigned PUT. What
    the real call adds (validation, quota, audit, outbox, serialising) is measured against this."""

    def post(self, request):
        upload_id = uuid.uuid4()
        key = f"uploads/{request.user.pk}/{upload_id}/photo.jpg"
        now = timezone.now()
        Upload.objects.create(
            id=upload_id,
            owner=request.user,
            bucket=settings.UPLOADER_BUCKET,
            key=key,
            original_filename="photo.jpg",
            content_type="image/jpeg",
            size=123456,
            created_at=now,
            expires_at=now,
        )
        url = signing.presign_put(bucket=settings.UPLOADER_BUCKET, key=key, content_type="image/jpeg", size=123456)
        return Response({"id": str(upload_id), "url": url["url"]}, status=201)


@csrf_exempt
def proxied_upload(request):
    key = f"bench/proxied/{request.GET.get('name', 'blob')}"
    aws.s3().upload_fileobj(request, settings.UPLOADER_BUCKET, key)  # streams the request body
    return JsonResponse({"key": key})


urlpatterns = [
    path("bench/ping/", Ping.as_view()),
    path("bench/presign/", BarePresign.as_view()),
    path("bench/proxied/", proxied_upload),
    *app_urls,
]
