"""What another system hears when an upload is decided or goes: a Django signal, and a signed
webhook.

When an upload becomes `available`, `rejected` or `deleted`, `upload_changed` is sent once the
change has committed (never for a change that rolled back), and, when `UPLOADER_WEBHOOK_URL` is
set, a webhook delivery is owed in the same transaction (the outbox), so it survives an outage and
is retried by its Celery task with backoff until the receiver answers 2xx. The body is JSON; the
`X-Uploader-Signature` header is `sha256=` + the HMAC-SHA256 of the body under
`UPLOADER_WEBHOOK_SECRET`, so the receiver can tell it came from us.
"""

import hashlib
import hmac
import json

import django.dispatch
import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from uploader.domain import tasknames
from uploader.models import OutboxMessage, Upload
from uploader.services import outbox

HOOKED = (Upload.Status.AVAILABLE, Upload.Status.REJECTED, Upload.Status.DELETED)

# Sent after commit with upload_id (str), status and version.
upload_changed = django.dispatch.Signal()


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx: the delivery is retried."""


def announce(upload: Upload, previous_status: str) -> list[OutboxMessage]:
    """Inside the transaction that saved `upload`: the signal after commit, and the webhook owed
    (returned)."""
    if upload.status == previous_status or upload.status not in HOOKED:
        return []
    upload_id, status, version = str(upload.pk), upload.status, upload.version
    transaction.on_commit(
        lambda: upload_changed.send_robust(sender=Upload, upload_id=upload_id, status=status, version=version)
    )
    if settings.UPLOADER_WEBHOOK_URL:
        return [outbox.owe(tasknames.DELIVER_WEBHOOK, upload_id, status, version)]
    return []


def body(upload_id: str, status: str, version: int) -> bytes:
    upload = Upload.objects.filter(pk=upload_id).first()
    described = {"id": upload_id, "status": status, "version": version}
    if upload is not None:
        described |= {
            "key": upload.key,
            "bucket": upload.bucket,
            "filename": upload.original_filename,
            "content_type": upload.content_type,
            "size": upload.stored_size if upload.stored_size is not None else upload.size,
            "owner_id": upload.owner_id,
            "reason": upload.status_reason if status != Upload.Status.AVAILABLE else "",
            "scan": {"status": upload.scan_status, "detail": upload.scan_detail, "scanner": upload.scanned_with},
        }
    event = {"event": f"upload.{status}", "delivery": f"{upload_id}:{version}", "upload": described}
    return json.dumps(event, sort_keys=True).encode()


def signature(payload: bytes) -> str:
    return "sha256=" + hmac.new(settings.UPLOADER_WEBHOOK_SECRET.encode(), payload, hashlib.sha256).hexdigest()


def deliver(upload_id: str, status: str, version: int) -> None:
    """POST one event; raise DeliveryFailed (or a requests error) so the task retries it."""
    payload = body(upload_id, status, version)
    response = requests.post(
        settings.UPLOADER_WEBHOOK_URL,
        data=payload,
        headers={
            "Content-Type": "application/json",
            "X-Uploader-Event": f"upload.{status}",
            "X-Uploader-Delivery": f"{upload_id}:{version}",
            "X-Uploader-Signature": signature(payload),
            "X-Uploader-Sent-At": timezone.now().isoformat(),
        },
        timeout=10,
        allow_redirects=False,
    )
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"the receiver answered {response.status_code}")
