"""The API's routes under /api/v1/: uploads, their parts and downloads, the Companion routes, the
schema and its docs."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from uploader.api import companion, views

urlpatterns = [
    path("uploads/", views.UploadListCreateApi.as_view(), name="upload-list"),
    path("uploads/batch/", views.UploadBatchStartApi.as_view(), name="upload-batch"),
    path("uploads/batch/complete/", views.UploadBatchCompleteApi.as_view(), name="upload-batch-complete"),
    path("uploads/<uuid:upload_id>/", views.UploadDetailApi.as_view(), name="upload-detail"),
    path("uploads/<uuid:upload_id>/download/", views.UploadDownloadApi.as_view(), name="upload-download"),
    path("uploads/<uuid:upload_id>/parts/", views.UploadPartsApi.as_view(), name="upload-parts"),
    path("uploads/<uuid:upload_id>/complete/", views.UploadCompleteApi.as_view(), name="upload-complete"),
    path("uploads/<uuid:upload_id>/abort/", views.UploadAbortApi.as_view(), name="upload-abort"),
    path("presign/", views.LegacyPresignApi.as_view(), name="legacy-presign"),
    # Uppy's Companion S3 routes: `companionEndpoint: "<site>/api/v1/companion"`. No trailing slashes.
    path("companion/s3/params", companion.ParamsApi.as_view(), name="companion-params"),
    path("companion/s3/multipart", companion.MultipartCreateApi.as_view(), name="companion-multipart"),
    path("companion/s3/multipart/<str:upload_id>", companion.MultipartApi.as_view(), name="companion-multipart-upload"),
    path(
        "companion/s3/multipart/<str:upload_id>/complete",
        companion.MultipartCompleteApi.as_view(),
        name="companion-complete",
    ),
    path(
        "companion/s3/multipart/<str:upload_id>/<int:part_number>",
        companion.MultipartPartApi.as_view(),
        name="companion-part",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script for the CSP to allow.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    # Last: a path under the app's own prefixes that no route takes (a malformed id, a part number
    # that is not one) answers the API's JSON 404, not the host's HTML page; the host's other
    # routes beside these are left alone. Under uploads/ only paths ending in a slash, so that a
    # route asked for without its slash is still redirected to it (APPEND_SLASH) first; the
    # Companion routes have none.
    re_path(r"^uploads/.*/$", views.NotFoundApi.as_view()),
    re_path(r"^companion/", views.NotFoundApi.as_view()),
]
