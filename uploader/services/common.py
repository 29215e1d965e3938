"""What every service shares: the row lock (and the rule about it), the one way a change is
persisted (`commit_change`: saved, audited, its owner's quota count kept, and what it owes
recorded), and the errors."""

import contextlib
from collections.abc import Callable, Iterator
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib.auth.models import User
from django.db import connections
from django.utils.translation import gettext

from uploader import rows
from uploader.domain import tasknames
from uploader.domain.errors import InvalidInput, ServiceUnavailable, WrongState  # noqa: F401  (the services' errors)
from uploader.models import Upload, UploadEvent
from uploader.services import outbox, usage, webhooks


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
    """The upload's row, locked until the caller's transaction ends: every change of an upload is
    made under it. The rule: no network call while it is held (a slow S3 would hold every request
    about that upload, and a database connection, for as long), except where named below."""
    upload = rows.fetch(Upload, upload_id, for_update=True)
    if upload is None:
        raise Upload.DoesNotExist(upload_id)
    return upload


# The network calls made under a row lock, and why they must be; tests/test_layers.py finds every
# call to AWS under a lock in the services and holds it to this list.
NETWORK_UNDER_LOCK = {
    "complete._complete_multipart": (
        "ListParts, the check of the parts and CompleteMultipartUpload must see one state: a second "
        "complete (a client's retry) waits for the first and then finds the upload processing, instead "
        "of completing twice or judging parts S3 is assembling."
    ),
    "ending.upload_abort": (
        "AbortMultipartUpload and the move to expired are one step: a complete waiting on the lock "
        "then finds the upload expired instead of assembling the object of an upload just aborted."
    ),
    "ending.upload_expire_stale": "The same abort as upload_abort's, for an upload past its deadline.",
    "review.upload_set_visibility": (
        "The object's ACL and the row's visibility change together: two reviewers switching at once "
        "end with the ACL the row says."
    ),
}


def commit_change(upload: Upload, *, action: str, actor: User | None = None, detail: str = "") -> None:
    """Save a changed upload, record who changed what in the audit trail, and owe the mirror its
    write (the outbox, in the same transaction). The one way services persist a change, so no
    change goes unaudited or unmirrored. What it owes is also kept on the instance (`owed`), so
    that a caller on the worker's side may deliver it at once after the commit."""
    stage_change(upload, action=action, actor=actor, detail=detail)()


def stage_change(
    upload: Upload, *, action: str, actor: User | None = None, detail: str = "", reserve: bool = False
) -> "StagedChange":
    """commit_change in two steps: the rows built now (a new upload's own, its audit entry, what
    it owes), written by the call returned, inside the caller's transaction. A start builds them
    before its transaction, which then holds its locks for the statements alone (README,
    Benchmarks), and passes `reserve`: the call then raises the PolicyError that refuses the start,
    having written nothing, if the new upload's bytes do not fit its owner's quota.

    The owner's count is changed first (services.usage says why), except that a start whose
    transaction is its own calls `commit(rows_first=True)`: a new upload's rows, which no other
    transaction can see, are written before the owner's row is locked, so that the lock is held
    for its UPDATE and the COMMIT alone (concurrent starts of one owner queue on that row; a
    refusal rolls the whole transaction back). Before any transaction, a start may try `at_once`
    (PostgreSQL: the reservation and the rows as one statement)."""
    before_status, before_review = getattr(upload, "saved_state", ("", ""))
    adding = upload._state.adding
    held_before = 0 if adding else upload.held_bytes
    held_after = usage.holding(upload)
    if adding:
        upload.held_bytes = held_after  # before its INSERT is built
    new_row = rows.prepare_insert(upload) if adding else None
    event = rows.prepare_insert(
        UploadEvent(
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
    )
    owing = [outbox.stage(task, *args) for task, args in _owed(upload, before_status or "")]
    inserts = [*([new_row] if new_row else []), event, *(owed.row for owed in owing)]

    def written() -> None:
        upload.saved_state = (upload.status, upload.review_status)
        owed = [staged.recorded() for staged in owing] + webhooks.announce(upload, before_status or "")
        upload.owed = [*getattr(upload, "owed", []), *owed]

    def commit(*, rows_first: bool = False) -> None:
        count = held_after != held_before or reserve
        count_last = rows_first and adding
        if count and not count_last:
            usage.add(upload.owner_id, held_after - held_before, reserve=reserve)
        if new_row is None:
            upload.held_bytes = held_after
            rows.update(upload)
        # Statements built once per model, and on PostgreSQL the INSERTs sent as one (rows.py).
        rows.insert_all(inserts)
        if count and count_last:
            usage.add(upload.owner_id, held_after - held_before, reserve=reserve, written=True)
        written()

    def at_once() -> bool:
        if new_row is None or not reserve or upload.status in webhooks.HOOKED:
            return False  # not a start, or a change whose webhook row is owed after it
        connection = connections[new_row.alias]
        if connection.vendor != "postgresql" or not connection.get_autocommit():
            return False
        reservation = usage.reserving(upload.owner_id, held_after)
        if not rows.insert_all_if(reservation, inserts):
            return False
        written()
        return True

    return StagedChange(commit, at_once)


class StagedChange:
    """What stage_change returns. Called (inside the caller's transaction), it writes the change.
    `at_once()`, for a new upload's start outside any transaction on PostgreSQL: its reservation
    and its rows as one statement, one round trip and its own transaction (README, Benchmarks);
    False, having written nothing, where that cannot be or the count did not take the bytes (too
    many, or the owner's first upload, which has no count yet): then the call, which says which."""

    def __init__(self, commit: Callable[..., None], at_once: Callable[[], bool]) -> None:
        self._commit, self.at_once = commit, at_once

    def __call__(self, *, rows_first: bool = False) -> None:
        self._commit(rows_first=rows_first)


def _owed(upload: Upload, before_status: str) -> list[tuple[str, tuple[str, ...]]]:
    """What a change owes besides its webhook: the mirror's write, and the derivatives'."""
    return [(tasknames.MIRROR, (str(upload.pk),)), *_owe_derivatives(upload, before_status)]


def _owe_derivatives(upload: Upload, before_status: str) -> list[tuple[str, tuple[str, ...]]]:
    """The making of derivatives for an upload that has just become available, and the removal
    of what was made for one that has lost its object (services.media does the work)."""
    if upload.status == Upload.Status.AVAILABLE and before_status != Upload.Status.AVAILABLE:
        if upload.media_status == Upload.MediaStatus.PENDING:
            return [(tasknames.MAKE_DERIVATIVES, (str(upload.pk),))]
    elif upload.status in Upload.Status.NO_OBJECT:
        return [(tasknames.DROP_DERIVATIVE, (name,)) for name in (upload.thumbnail, upload.preview_image) if name]
    return []
