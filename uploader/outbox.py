"""The transactional outbox: the one place work is queued from.

A service that changes an upload records what it owes (a mirror write, a task) with `owe`, in the
same transaction as the change. The worker's relay delivers it once committed: mirror writes
straight to DynamoDB, tasks to the Celery queue by name. So the request path touches only the
database (and the local signer), and an outage of SQS or DynamoDB delays work instead of losing
it: what could not be delivered stays owed and is retried with backoff.
"""

import contextlib
import datetime as dt
import logging
import threading

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone

from . import callrecord, logcontext
from .models import OutboxMessage
from .worker_thread import ThreadStep

log = logging.getLogger(__name__)

MIRROR = "uploader.mirror_upload"
VERIFY = "uploader.verify_upload"
# A claimed row is not handed to another relay for this long (its relay may have died).
LEASE = dt.timedelta(seconds=60)
MAX_BACKOFF = 15  # seconds: owed work goes out soon after an outage ends
BATCH = 100  # rows a relay claims at once
_local = threading.local()


def owe(task: str, *args) -> OutboxMessage:
    """Record, in the caller's transaction, that `task(*args)` is owed once it commits."""
    message = OutboxMessage.objects.create(task=task, args=list(args))
    if settings.UPLOADER_OUTBOX_EAGER or getattr(_local, "inline", False):
        transaction.on_commit(lambda: _deliver_now(message))
    return message


def _deliver_now(message):
    """Right after the commit, by the thread that committed: no claim is taken (a relay that picks
    the row up meanwhile delivers it a second time, which every delivery tolerates)."""
    if _attempt(message):
        OutboxMessage.objects.filter(pk=message.pk).delete()


def _attempt(message) -> bool:
    """Deliver one row: True if it went; otherwise it stays owed, postponed with backoff."""
    with (
        logcontext.bound(request=f"outbox-{message.pk}", upload=message.args[0] if message.args else "-"),
        callrecord.acting_as(callrecord.WORKER),  # also when delivered eagerly by a web process
    ):
        try:
            _send(message)
        except Exception as exc:  # any failure: the relay retries it
            _postpone(message, exc)
            return False
    return True


@contextlib.contextmanager
def delivered_inline():
    """What transactions owe inside this block is delivered by this thread right after each commit
    (the worker applying an S3 event writes the mirror at once, not at the relay's next pass)."""
    previous = getattr(_local, "inline", False)
    _local.inline = True
    try:
        yield
    finally:
        _local.inline = previous


def deliver(*, limit=BATCH) -> int:
    """Claim the oldest owed rows that are due, deliver them and delete what went. A failed
    delivery stays owed, retried after a backoff. Returns how many were delivered."""
    now = timezone.now()
    if not OutboxMessage.objects.filter(not_before__lte=now).exists():
        return 0  # a plain read: an idle relay takes no write lock (SQLite has only one)
    with transaction.atomic():
        due = OutboxMessage.objects.select_for_update(skip_locked=True).filter(not_before__lte=now)
        claimed = list(due.order_by("id")[:limit])
        if not claimed:
            return 0
        OutboxMessage.objects.filter(pk__in=[m.pk for m in claimed]).update(not_before=now + LEASE)
    delivered = [message.pk for message in claimed if _attempt(message)]
    OutboxMessage.objects.filter(pk__in=delivered).delete()
    return len(delivered)


def _send(message):
    if message.task == MIRROR:
        from . import services
        from .models import Upload

        with contextlib.suppress(Upload.DoesNotExist):  # its owner was deleted: nothing left to mirror
            services.upload_mirror(upload_id=message.args[0])
        return
    from . import tasks  # noqa: F401  (registers them in a process that never imported them)

    current_app.tasks[message.task].apply_async(args=message.args)  # by name; honours eager mode in tests


def _postpone(message, exc):
    delay = min(2**message.attempts, MAX_BACKOFF)
    log.warning(
        "outbox: %s failed (attempt %d), retrying in %ss: %s",
        message,
        message.attempts + 1,
        delay,
        exc.__class__.__name__,
    )
    OutboxMessage.objects.filter(pk=message.pk).update(
        attempts=F("attempts") + 1,
        not_before=timezone.now() + dt.timedelta(seconds=delay),
        last_error=f"{exc.__class__.__name__}: {exc}"[:255],
    )


def oldest_age_seconds() -> float | None:
    """How long the oldest owed row has waited, or None when nothing is owed."""
    oldest = OutboxMessage.objects.order_by("created_at").values_list("created_at", flat=True).first()
    return None if oldest is None else (timezone.now() - oldest).total_seconds()


class OutboxRelayStep(ThreadStep):
    """A worker thread that delivers what committed transactions owe, a few times a second."""

    thread_name = "outbox-relay"

    def run(self):
        log.info("relaying the outbox")
        while not self._stop.is_set():
            delivered = 0
            try:
                delivered = deliver()
            except Exception:  # the database itself may be away; keep trying
                log.exception("outbox relay error")
            finally:
                close_old_connections()
            if delivered < BATCH:  # a full batch means more may be due: go on at once
                self._stop.wait(settings.UPLOADER_OUTBOX_POLL_SECONDS)
