"""Each backing service checked on its own, so an operator sees which one is down (/healthz);
what this process needs to serve its own requests (/readyz), cheaply; and who may see the
detailed reports."""

import hmac
import ipaddress
import threading
import time

from django.conf import settings
from django.db import connection

from uploader import aws


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _s3():
    aws.s3().head_bucket(Bucket=settings.UPLOADER_BUCKET)


def _sqs():
    aws.queue_url(settings.UPLOADER_EVENTS_QUEUE)


def _dynamodb():
    aws.dynamodb().describe_table(TableName=settings.UPLOADER_DYNAMODB_TABLE)


CHECKS = {"database": _database, "s3": _s3, "sqs": _sqs, "dynamodb": _dynamodb}


def check_all():
    """{name: {"ok": bool, "error"?: str}} for every backing service."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = {"ok": True}
        except Exception as exc:  # any failure is a report, not a crash
            results[name] = {"ok": False, "error": exc.__class__.__name__}
    return results


def _credentials():
    """The signer has credentials to sign with: static keys, or an instance role's (botocore
    fetches and refreshes those itself, not on every call); no AWS API is called."""
    frozen = aws.frozen_credentials()
    if not (frozen and frozen.access_key and frozen.secret_key):
        raise RuntimeError("no credentials")


# What a web process needs to serve its requests: presigning works without SQS or DynamoDB (the
# outbox holds what they owe), so neither is here; a blip there must not pull every web node.
READY_CHECKS = {"database": _database, "credentials": _credentials}
_ready_lock = threading.Lock()
_ready: dict = {"at": -1e9, "report": None}


def readiness() -> dict:
    """{"ok": bool, "checks": {name: {"ok", "error"?}}}, computed at most once per
    UPLOADER_READY_CACHE_SECONDS in this process, so a probe every second costs next to nothing."""
    with _ready_lock:
        now = time.monotonic()
        if _ready["report"] is None or now - _ready["at"] >= settings.UPLOADER_READY_CACHE_SECONDS:
            checks = {}
            for name, check in READY_CHECKS.items():
                try:
                    check()
                    checks[name] = {"ok": True}
                except Exception as exc:  # a failing check is a report, not a crash
                    checks[name] = {"ok": False, "error": exc.__class__.__name__}
            _ready.update(at=now, report={"ok": all(c["ok"] for c in checks.values()), "checks": checks})
        return _ready["report"]


def forget_readiness() -> None:
    """The next /readyz checks again (tests, and a setting changed)."""
    with _ready_lock:
        _ready.update(at=-1e9, report=None)


def may_see_details(request) -> bool:
    """Staff signed in, the metrics token, or a client in UPLOADER_HEALTH_NETWORKS (its own
    address: a forwarded header can be forged)."""
    if getattr(request, "user", None) is not None and request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.UPLOADER_METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.UPLOADER_HEALTH_NETWORKS)
