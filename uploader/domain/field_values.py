"""The value a form's UploadField takes: an upload's id signed with its owner and destination.

Why signed: a form (a host's ModelForm, the admin) does not know who submits it, so a bare id
would let anyone attach an upload whose id they learned. The API hands this value to the upload's
owner only (their start, complete and detail answers); the form accepts an upload only with it, so
possession proves the owner's hand, and the destination inside it cannot be swapped."""

from django.conf import settings
from django.core import signing

SALT = "uploader.field-value"


class Invalid(Exception):
    """Not a value this server signed, or signed too long ago."""


def sign(upload) -> str:
    return signing.dumps([str(upload.pk), upload.owner_id, upload.destination], salt=SALT, compress=False)


def unsign(value: str) -> tuple[str, int, str]:
    """(upload id, owner id, destination) of a value signed within UPLOADER_FIELD_VALUE_MAX_AGE."""
    max_age = getattr(settings, "UPLOADER_FIELD_VALUE_MAX_AGE", 24 * 3600)
    try:
        upload_id, owner_id, destination = signing.loads(value, salt=SALT, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise Invalid(str(exc)) from exc
    return str(upload_id), int(owner_id), str(destination)
