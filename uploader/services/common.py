import contextlib

from botocore.exceptions import BotoCoreError, ClientError
from django.utils.translation import gettext

from .. import outbox
from ..models import Upload, UploadEvent


class ServiceUnavailable(Exception):
    """A backing AWS service did not answer; nothing was changed."""


class WrongState(Exception):
    """The upload is not in a state that allows this call."""


class InvalidParts(Exception):
    """The client's part request or part list is wrong; `code` says how."""

    def __init__(self, message, *, code):
        super().__init__(message)
        self.message, self.code = message, code


@contextlib.contextmanager
def storage_errors():
    """Turn an AWS failure into ServiceUnavailable (a 503 for the API)."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise ServiceUnavailable(
            gettext("Object storage is unavailable (%(error)s); try again.") % {"error": exc.__class__.__name__}
        ) from exc


def locked(upload_id):
    return Upload.objects.select_for_update().get(pk=upload_id)


def commit_change(upload, *, action, actor=None, detail=""):
    """Save a changed upload, record who changed what in the audit trail, and owe the mirror its
    write (the outbox, in the same transaction). The one way services persist a change, so no
    change goes unaudited or unmirrored."""
    before_status, before_review = getattr(upload, "saved_state", ("", ""))
    upload.save()
    UploadEvent.objects.create(
        upload_id=upload.pk,
        upload_key=upload.key,
        owner_id=upload.owner_id,
        actor=actor,
        actor_name=actor.get_username() if actor else "",
        action=action,
        from_status=before_status or "",
        to_status=upload.status,
        from_review=before_review or "",
        to_review=upload.review_status,
        detail=detail,
        version=upload.version,
    )
    upload.saved_state = (upload.status, upload.review_status)
    outbox.owe(outbox.MIRROR, str(upload.pk))
