import contextlib

from botocore.exceptions import BotoCoreError, ClientError
from django.db import transaction
from kombu.exceptions import OperationalError

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
        raise ServiceUnavailable(f"Object storage is unavailable ({exc.__class__.__name__}); try again.") from exc


def queue_mirror(upload):
    """Mirror once committed. If the queue is down the change still stands: the failure is logged
    and `manage.py reconcile` repairs the mirror."""
    from ..tasks import mirror_upload

    upload_id = str(upload.id)
    transaction.on_commit(lambda: mirror_upload.delay(upload_id), robust=True)


def publish(task, *args):
    """Queue a task now, or raise ServiceUnavailable: for callers that must not go on without it."""
    try:
        task.delay(*args)
    except (OperationalError, BotoCoreError, ClientError, OSError) as exc:
        raise ServiceUnavailable(f"The task queue is unavailable ({exc.__class__.__name__}); try again.") from exc


def locked(upload_id):
    return Upload.objects.select_for_update().get(pk=upload_id)


def commit_change(upload, *, action, actor=None, detail="", strict=False):
    """Save a changed upload, record who changed what in the audit trail, and queue the mirror.
    The one way services persist a change, so no change goes unaudited or unmirrored. `strict`
    queues the mirror before committing, so the change is undone if the queue is down."""
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
    if strict:
        from ..tasks import mirror_upload

        publish(mirror_upload, str(upload.pk))  # inside the transaction: a failure undoes the change
    else:
        queue_mirror(upload)
