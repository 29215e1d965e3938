"""The transactional outbox, the recording side: the one way a change says what work it owes.

A service that changes an upload records what it owes (a mirror write, a task, by its name in
uploader.domain.tasknames) with `owe`, in the same transaction as the change. The worker's relay
(uploader.worker.relay) delivers it once committed. So the request path touches only the database (and
the local signer), and an outage of SQS or DynamoDB delays work instead of losing it. This module
knows no task and no service: owed work is data.
"""

import django.dispatch
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from uploader import rows
from uploader.models import OutboxMessage

# Sent after the commit of a row owed while UPLOADER_OUTBOX_EAGER is on (tests, one-process
# setups), with `message`; the relay delivers it at once (uploader.apps connects it).
committed = django.dispatch.Signal()


def owe(task: str, *args: object) -> OutboxMessage:
    """Record, in the caller's transaction, that `task(*args)` is owed once it commits."""
    return stage(task, *args)()


class Staged:
    """An owed row built and not written yet: `row` is its INSERT, which the caller may execute
    with others (rows.insert_all); then `recorded()`. Called, it does both."""

    def __init__(self, task: str, args: tuple[object, ...]) -> None:
        self.message = OutboxMessage(task=task, args=list(args))
        self.row = rows.prepare_insert(self.message)

    def recorded(self) -> OutboxMessage:
        """After the row's INSERT: in eager mode, its delivery once the transaction commits."""
        message = self.message
        if settings.UPLOADER_OUTBOX_EAGER:
            transaction.on_commit(lambda: committed.send(sender=OutboxMessage, message=message))
        return message

    def __call__(self) -> OutboxMessage:
        self.row.execute()
        return self.recorded()


def stage(task: str, *args: object) -> Staged:
    """`owe` in two steps: the row built now, written (in the caller's transaction) by the call
    returned."""
    return Staged(task, args)


def oldest_age_seconds() -> float | None:
    """How long the oldest owed row has waited, or None when nothing is owed."""
    oldest = OutboxMessage.objects.order_by("created_at").values_list("created_at", flat=True).first()
    return None if oldest is None else (timezone.now() - oldest).total_seconds()
