"""s3ff's routes where its documentation puts them, and a trivial endpoint with the same
authentication (the peer's own baseline, as /bench/ping/ is ours)."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class Ping(APIView):
    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("api/joist/", include("s3_file_field.urls")),
    path("ping/", Ping.as_view()),
]
