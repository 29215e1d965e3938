"""Thin Celery tasks: take ids, look up, call a service. Retries only for transient AWS errors."""

from botocore.exceptions import BotoCoreError, ClientError
from celery import shared_task

from . import services
from .models import Upload

_TRANSIENT = (BotoCoreError, ClientError)


@shared_task(
    name="uploader.verify_upload",
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def verify_upload(upload_id):
    try:
        services.upload_verify(upload_id=upload_id)
    except Upload.DoesNotExist:
        return


@shared_task(name="uploader.mirror_upload", acks_late=True)
def mirror_upload(upload_id):
    """No longer queued: the outbox relay writes the mirror, retrying with backoff. Kept so that
    messages an earlier version queued are still consumed."""
    try:
        services.upload_mirror(upload_id=upload_id)
    except Upload.DoesNotExist:
        return


@shared_task(name="uploader.expire_stale_uploads", acks_late=True)
def expire_stale_uploads():
    return services.upload_expire_stale()
