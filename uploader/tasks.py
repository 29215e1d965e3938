"""Thin Celery tasks: take ids, look up, call a service. Retried on transient AWS errors, and a
webhook delivery on any failure of the receiver."""

import requests
from botocore.exceptions import BotoCoreError, ClientError
from celery import shared_task
from django.conf import settings

from uploader import fields, services
from uploader.domain import tasknames
from uploader.inspection import scanning
from uploader.models import Upload
from uploader.services import webhooks

_TRANSIENT = (BotoCoreError, ClientError, services.ServiceUnavailable)
# How every task that reaches AWS is retried: acknowledged after it ran (a killed worker's task
# comes back), and retried with backoff on transient AWS errors only. Defined once.
RETRIED = {
    "acks_late": True,
    "autoretry_for": _TRANSIENT,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 8,
}


@shared_task(
    name=tasknames.VERIFY,
    **{**RETRIED, "autoretry_for": (*_TRANSIENT, scanning.ScannerUnavailable), "max_retries": None},
)
def verify_upload(upload_id):
    """The verdict; while the scanner cannot answer it is tried again (at most a minute apart) for
    as long as that lasts: an upload waits, and never becomes available unscanned."""
    try:
        services.upload_verify(upload_id=upload_id)
    except Upload.DoesNotExist:
        return


@shared_task(name=tasknames.MIRROR, **RETRIED)
def mirror_upload(upload_id):
    """Run by the outbox relay itself (tasknames.RUN_BY_RELAY), which retries it with backoff;
    as a queued task only for messages an earlier version queued."""
    try:
        services.upload_mirror(upload_id=upload_id)
    except Upload.DoesNotExist:
        return


@shared_task(
    name=tasknames.DELIVER_WEBHOOK,
    acks_late=True,
    autoretry_for=(webhooks.DeliveryFailed, requests.RequestException),
    retry_backoff=settings.UPLOADER_WEBHOOK_RETRY_BACKOFF,
    retry_backoff_max=600,
    max_retries=12,
)
def deliver_webhook(upload_id, status, version):
    """One webhook delivery, retried with exponential backoff (with the default 5 s start, about
    an hour in all before it gives up)."""
    webhooks.deliver(upload_id, status, version)


@shared_task(name=tasknames.EXPIRE_STALE, **RETRIED)
def expire_stale_uploads():
    return services.upload_expire_stale()


@shared_task(name=tasknames.POLICE_OPEN_PARTS, **RETRIED)
def police_open_parts():
    """Open multipart uploads of undeclared size held to their reservation (services.open_parts)."""
    return services.upload_police_open_parts()


@shared_task(
    name=tasknames.MAKE_DERIVATIVES,
    soft_time_limit=settings.UPLOADER_MEDIA_TIME_LIMIT,
    time_limit=settings.UPLOADER_MEDIA_TIME_LIMIT + 30,
    acks_on_timeout=False,  # a run the hard limit killed comes back, like one whose process crashed
    **RETRIED,
)
def make_derivatives(upload_id):
    """A thumbnail and the media figures, after the verdict and apart from it: a slow video
    holds this task only, and only up to its time limit (the soft one records `failed`). A run
    that dies (a crashing decoder, the hard limit) is tried again, up to
    services.media.MAX_ATTEMPTS runs, then recorded `failed`."""
    try:
        services.upload_make_derivatives(upload_id=upload_id)
    except Upload.DoesNotExist:
        return


@shared_task(name=tasknames.DROP_DERIVATIVE, **RETRIED)
def drop_derivatives(name):
    services.upload_drop_derivative(name=name)


@shared_task(name=tasknames.RELEASE, **RETRIED)
def release_upload(upload_id):
    """Delete an upload a host object let go (its destination releases), unless an UploadField
    holds it again by now (a form saved twice, another object given the same upload)."""
    if fields.holds(upload_id):
        return
    services.upload_release(upload_id=upload_id)
