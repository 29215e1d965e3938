"""Bench-only views. The proxied upload is the baseline the direct path is measured against: the
bytes pass through Django on their way to S3, as a naive upload view would do it."""

from django.conf import settings
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as app_urls
from uploader import aws


class Ping(APIView):
    """The same authentication and permission as the API, and nothing else."""

    def get(self, request):
        return Response({"ok": True})


@csrf_exempt
def proxied_upload(request):
    key = f"bench/proxied/{request.GET.get('name', 'blob')}"
    aws.s3().upload_fileobj(request, settings.UPLOADER_BUCKET, key)  # streams the request body
    return JsonResponse({"key": key})


urlpatterns = [path("bench/ping/", Ping.as_view()), path("bench/proxied/", proxied_upload), *app_urls]
