"""The outbox's relay, on the worker's side: delivers what committed transactions owe.

Each owed row names a task (uploader.domain.tasknames); the relay looks it up in Celery's registry of
this app's tasks and sends it to the task queue, or runs it here for the few that are a single
call (the mirror write: tasknames.RUN_BY_RELAY). A delivery that fails stays owed and is tried
again with backoff, so an outage of SQS or DynamoDB delays work and never loses it. The relay
knows task names only, never a service.
"""

import datetime as dt
import logging

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone

from uploader import tasks  # noqa: F401  (registers the tasks in a process that has not imported them)
from uploader.aws import callrecord
from uploader.domain import tasknames
from uploader.models import OutboxMessage
from uploader.ops import logcontext
from uploader.worker.worker_thread import ThreadStep

log = logging.getLogger(__name__)

# A claimed row is not handed to another relay for this long (its relay may have died). Short:
# a killed worker's claimed rows wait this long, and a crash must cost seconds (the task queue's
# visibility timeout is 30 s); a slow delivery that outlives it is sent twice, which every
# delivery tolerates (a mirror write is versioned, every task checks its row's state).
LEASE = dt.timedelta(seconds=15)
MAX_BACKOFF = 15  # seconds: owed work goes out soon after an outage ends
BATCH = 100  # rows a relay claims at once


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


def deliver_now(messages) -> int:
    """Deliver now, from this thread, rows a committed change owed (the worker that has just
    applied an S3 event writes its mirror at once, not at the relay's next pass: the change's
    `owed`, services.common.commit_change). No claim is taken: a relay that picks a row up
    meanwhile delivers it a second time, which every delivery tolerates."""
    return _deliver_unclaimed(messages)


def deliver_committed(sender, *, message: OutboxMessage, **kwargs) -> None:
    """outbox.committed's receiver (UPLOADER_OUTBOX_EAGER): the row just committed goes now."""
    deliver_now([message])


def _deliver_unclaimed(messages) -> int:
    delivered = [message.pk for message in messages if _attempt(message)]
    if delivered:
        OutboxMessage.objects.filter(pk__in=delivered).delete()
    return len(delivered)


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


def _send(message):
    task = current_app.tasks[message.task]
    if message.task in tasknames.RUN_BY_RELAY:
        task(*message.args)  # here and now; called directly, its failure propagates to _attempt
    else:
        task.apply_async(args=message.args)  # honours eager mode in tests


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
