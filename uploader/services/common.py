import contextlib
from collections.abc import Iterator
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib.auth.models import User
from django.utils.translation import gettext

from .. import outbox, webhooks
from ..errors import InvalidInput, ServiceUnavailable, WrongState  # noqa: F401  (the services' errors)
from ..models import Upload, UploadEvent
from . import media


class InvalidParts(InvalidInput):
    """The client's part request or part list is wrong; `code` says how."""


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Turn an AWS failure into ServiceUnavailable (a 503 for the API)."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise ServiceUnavailable(
            gettext("Object storage is unavailable (%(error)s); try again.") % {"error": exc.__class__.__name__}
        ) from exc


def locked(upload_id: UUID | str) -> Upload:
    return Upload.objects.select_for_update().get(pk=upload_id)


def commit_change(upload: Upload, *, action: str, actor: User | None = None, detail: str = "") -> None:
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
    media.owe_derivatives(upload, before_status or "")
    webhooks.announce(upload, before_status or "")
