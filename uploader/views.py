"""The site's own pages and probes: the upload page, /livez, /readyz, /healthz and the favicon."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.templatetags.static import static

from uploader.domain import media_types
from uploader.models import Upload
from uploader.ops import health
from uploader.services import selectors
from uploader.worker import liveness


def home(request):
    """The upload page; signed out, a word of what the service is and the way in."""
    if not request.user.is_authenticated:
        accepted = media_types.accepted(settings.UPLOADER_ALLOWED_TYPES)
        context = {"accepted": accepted, "login_url": resolve_url(settings.LOGIN_URL)}
        return render(request, "uploader/welcome.html", context)  # a host's own overrides the app's
    limits = selectors.upload_limits(user=request.user)
    context = {
        "allowed_types": settings.UPLOADER_ALLOWED_TYPES,
        "accepted": media_types.accepted(settings.UPLOADER_ALLOWED_TYPES),
        "media_types": media_types.for_page(settings.UPLOADER_ALLOWED_TYPES),
        "limits": limits,
        "max_size": limits.binding,
        "multipart_threshold": settings.UPLOADER_MULTIPART_THRESHOLD,
        "statuses": OWNER_STATUSES,
    }
    return render(request, "uploader/home.html", context)


# What an owner's list can show: a reviewer's rejection shows as rejected (api/serializers.py).
OWNER_STATUSES = [(value, label) for value, label in Upload.Status.choices if value != Upload.Status.DELETED]


def livez(request):
    """For an orchestrator's liveness probe: the process answers. Touches nothing else, so a
    database or AWS outage never gets a healthy process restarted."""
    return JsonResponse({"ok": True})


def readyz(request):
    """For a load balancer: this process can serve its own requests (its database, the signer's
    credentials), cached for a few seconds; SQS and DynamoDB are not among them."""
    report = health.readiness()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def _details_refused():
    return JsonResponse(
        {"detail": "for staff, the metrics token or the private network (UPLOADER_HEALTH_NETWORKS); /readyz is public"},
        status=403,
    )


def healthz(request):
    """The full picture, for people: every backing service (AWS calls), so not for anyone."""
    if not health.may_see_details(request):
        return _details_refused()
    results = health.check_all()
    ok = all(r["ok"] for r in results.values())
    return JsonResponse({"ok": ok, "services": results}, status=200 if ok else 503)


def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (allauth's own templates)."""
    return redirect(static("uploader/favicon.svg"), permanent=True)


def pipeline_health(request):
    """For an orchestrator: are workers reporting, and is any queued work older than its bound?
    Worker host names and queue depths: for staff, the token or the private network only."""
    if not health.may_see_details(request):
        return _details_refused()
    report = liveness.pipeline_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)
