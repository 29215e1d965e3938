"""The app's pages and probes, outside the API: the upload page, health, metrics."""

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from uploader import views
from uploader.ops import metrics

urlpatterns = [
    path("", views.home, name="home"),
    path("livez", views.livez, name="livez"),
    path("readyz", views.readyz, name="readyz"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/pipeline", views.pipeline_health, name="healthz-pipeline"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("favicon.ico", views.favicon),
    # The page scripts' texts in the reader's language (loaded before the modules).
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["uploader"]), name="javascript-catalog"),
]
