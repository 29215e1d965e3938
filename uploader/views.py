from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static

from . import health, liveness
from .models import Upload


@login_required
def home(request):
    context = {
        "allowed_types": settings.UPLOADER_ALLOWED_TYPES,
        "max_size": settings.UPLOADER_MAX_SIZE,
        "multipart_threshold": settings.UPLOADER_MULTIPART_THRESHOLD,
        "statuses": [(value, label) for value, label in Upload.Status.choices if value != Upload.Status.DELETED],
    }
    return render(request, "uploader/home.html", context)


def healthz(request):
    results = health.check_all()
    ok = all(r["ok"] for r in results.values())
    return JsonResponse({"ok": ok, "services": results}, status=200 if ok else 503)


def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (allauth's own templates)."""
    return redirect(static("uploader/favicon.svg"), permanent=True)


def pipeline_health(request):
    """For an orchestrator: are workers reporting, and is any queued work older than its bound?"""
    report = liveness.pipeline_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)
