from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/pipeline", views.pipeline_health, name="healthz-pipeline"),
    path("favicon.ico", views.favicon),
]
