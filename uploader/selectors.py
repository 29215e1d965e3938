"""Reads."""

from .models import Upload


def upload_list(*, user, status=None, content_type=None):
    qs = Upload.objects.filter(owner=user).exclude(status=Upload.Status.DELETED)
    if status:
        qs = qs.filter(status=status)
    if content_type:
        if content_type.endswith("/*"):
            qs = qs.filter(content_type__startswith=content_type[:-1])
        else:
            qs = qs.filter(content_type=content_type)
    return qs.order_by("-created_at")


def upload_get_for_user(*, user, upload_id):
    """The caller's upload, or None: another user's upload is indistinguishable from none."""
    return upload_list(user=user).filter(pk=upload_id).first()
