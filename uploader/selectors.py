"""Reads."""

from django.db.models import Sum, Value
from django.db.models.functions import Coalesce

from . import signing, validation
from .models import Upload


def upload_list(*, user):
    """The user's uploads, newest first; deleted ones are gone for them."""
    return Upload.objects.filter(owner=user).exclude(status=Upload.Status.DELETED).order_by("-created_at")


def upload_get_for_user(*, user, upload_id):
    """The caller's upload, or None: another user's upload is indistinguishable from none."""
    return upload_list(user=user).filter(pk=upload_id).order_by().first()  # by primary key: no sort


def upload_download_url(*, upload, attachment=None):
    """A short-lived GET of an available upload saving under its display name, or None. Inline
    (shown in the browser) only for types that are safe to render, unless an attachment is asked."""
    if upload.status != Upload.Status.AVAILABLE:
        return None
    if attachment is None:
        attachment = upload.content_type not in signing.INLINE_SAFE_TYPES
    return signing.presign_get(
        bucket=upload.bucket, key=upload.key, filename=upload.original_filename, attachment=attachment
    )


def upload_get_by_key(*, user, key, multipart_upload_id=None):
    """The caller's upload stored under `key` (and, when given, that multipart upload), or None."""
    found = upload_list(user=user).filter(key=key).order_by()
    if multipart_upload_id is not None:
        found = found.filter(multipart_upload_id=multipart_upload_id)
    return found.first()


def upload_bytes_held(*, owner_id: int, exclude_id=None) -> int:
    """Bytes counted against a user's quota: every pending, processing or available upload by its
    declared size, else what is stored, else (a legacy upload whose bytes have not arrived) the
    legacy reservation."""
    held = Upload.objects.filter(owner_id=owner_id, status__in=Upload.Status.HOLDING)
    if exclude_id is not None:
        held = held.exclude(pk=exclude_id)
    reserved = Coalesce("size", "stored_size", Value(validation.unsized_limit()))
    return held.aggregate(total=Sum(reserved))["total"] or 0
