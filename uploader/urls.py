"""The app's pages and probes, outside the API: the upload page, health, metrics."""

from django.urls import path

from . import metrics, views

urlpatterns = [
    path("", views.home, name="home"),
    path("livez", views.livez, name="livez"),
    path("readyz", views.readyz, name="readyz"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/pipeline", views.pipeline_health, name="healthz-pipeline"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("favicon.ico", views.favicon),
]
