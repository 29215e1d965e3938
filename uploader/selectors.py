"""Reads."""

from .models import Upload


def upload_list(*, user):
    """The user's uploads, newest first; deleted ones are gone for them."""
    return Upload.objects.filter(owner=user).exclude(status=Upload.Status.DELETED).order_by("-created_at")


def upload_get_for_user(*, user, upload_id):
    """The caller's upload, or None: another user's upload is indistinguishable from none."""
    return upload_list(user=user).filter(pk=upload_id).first()
