"""Is the pipeline moving? (Why it is long: the heartbeat, the report and the stall watchdog
share one picture of a worker.)

Every worker writes a heartbeat row every few seconds: when it last finished a task, when it last
applied an S3 event, and since when each queue has held messages (an upper bound on the age of the
oldest message, which SQS does not report). `/healthz/pipeline` reads those rows and fails when a
bound is passed, so an orchestrator can act. And a worker whose task consumer has stalled (messages
waiting, none taken, none running, for UPLOADER_WORKER_STALL_SECONDS) exits, so that its process
manager starts a fresh one: the safety net behind any bug that stops consumption.
"""

import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from uploader.models import OutboxMessage, Upload, WorkerHeartbeat
from uploader.worker.worker_thread import ThreadStep

log = logging.getLogger(__name__)
_last_event_at = None
_events_applied = 0


def note_event_applied(count=1):
    """Called by the S3 event consumer after each batch it applied."""
    global _last_event_at, _events_applied
    _last_event_at = timezone.now()
    _events_applied += count


@dataclass
class StallDetector:
    """Pure bookkeeping: progress is a task accepted or finished; a stall is the task queue
    holding visible messages for `stall_after` seconds with no progress and nothing running."""

    stall_after: float
    progress_count: int = -1
    progress_at: float = field(default_factory=time.monotonic)
    waiting_since: float | None = None

    def observe(self, *, now: float, progress_count: int, running: int, visible: int | None) -> bool:
        if progress_count != self.progress_count or running:
            self.progress_count, self.progress_at = progress_count, now
        if visible is not None:
            if visible <= 0:
                self.waiting_since = None
            elif self.waiting_since is None:
                self.waiting_since = now
        return (
            self.waiting_since is not None
            and now - self.waiting_since >= self.stall_after
            and now - self.progress_at >= self.stall_after
            and not running
        )


def _queue_depths(names):
    """{queue: (visible, in flight)}; a queue that cannot be read is left out."""
    from uploader import aws

    depths = {}
    for name in names:
        try:
            attributes = aws.sqs().get_queue_attributes(
                QueueUrl=aws.queue_url(name),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        except Exception as exc:  # SQS away: report what is known
            log.warning("liveness: queue %s unreadable: %s", name, exc.__class__.__name__)
            continue
        depths[name] = (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )
    return depths


def watched_queues():
    return [settings.CELERY_TASK_DEFAULT_QUEUE, settings.UPLOADER_EVENTS_QUEUE, settings.UPLOADER_EVENTS_DLQ]


class LivenessStep(ThreadStep):
    """The worker's heartbeat and stall watch, in a thread of the main process (where Celery
    counts accepted and running tasks)."""

    thread_name = "liveness"

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self._hostname = getattr(worker, "hostname", None) or f"{socket.gethostname()}:{os.getpid()}"

    def run(self):
        from celery.worker import state

        detector = StallDetector(stall_after=settings.UPLOADER_WORKER_STALL_SECONDS)
        nonempty_since, last_task_at, finished_before = {}, None, 0
        while not self._stop.wait(settings.UPLOADER_HEARTBEAT_SECONDS):
            try:
                running = len(state.active_requests)
                accepted = sum(state.total_count.values())
                if accepted - running > finished_before:
                    finished_before, last_task_at = accepted - running, timezone.now()
                depths = _queue_depths(watched_queues())
                if settings.CELERY_TASK_DEFAULT_QUEUE in depths:  # the broker answered: ready
                    mark_ready()
                now = timezone.now()
                for name, (visible, _) in depths.items():
                    nonempty_since[name] = (nonempty_since.get(name) or now) if visible else None
                task_queue = depths.get(settings.CELERY_TASK_DEFAULT_QUEUE)
                if detector.observe(
                    now=time.monotonic(),
                    progress_count=accepted,
                    running=running,
                    visible=task_queue[0] if task_queue else None,
                ):
                    log.critical(
                        "the task consumer has stalled: %d message(s) waiting, none taken for %ss; "
                        "exiting so that the process manager starts a fresh worker",
                        task_queue[0],
                        settings.UPLOADER_WORKER_STALL_SECONDS,
                    )
                    self._exit()
                    return
                self._beat(now, last_task_at, depths, nonempty_since, done=accepted - running, running=running)
            except Exception:  # the database may be away: report again next time
                log.exception("liveness: heartbeat failed")
            finally:
                close_old_connections()

    def _beat(self, now, last_task_at, depths, nonempty_since, *, done, running):
        queues = {
            name: {
                "visible": visible,
                "in_flight": in_flight,
                "nonempty_since": nonempty_since[name].isoformat() if nonempty_since.get(name) else None,
            }
            for name, (visible, in_flight) in depths.items()
        }
        WorkerHeartbeat.objects.update_or_create(
            hostname=self._hostname,
            defaults={
                "seen_at": now,
                "last_task_at": last_task_at,
                "last_event_at": _last_event_at,
                "queues": queues,
                "tasks_done": done,
                "tasks_running": running,
                "events_applied": _events_applied,
            },
        )

    @staticmethod
    def _exit():
        os.kill(os.getpid(), signal.SIGTERM)  # a warm shutdown; if even that hangs, go anyway
        threading.Timer(60, lambda: os._exit(1)).start()


def mark_ready(path: str | None = None) -> None:
    """Touch the worker's readiness file: its broker answered just now. `manage.py probe worker`
    (an orchestrator's exec probe) reads the file's age: no AWS call, no database per probe."""
    path = path or settings.UPLOADER_WORKER_READY_FILE
    if path:
        with open(path, "a"):
            os.utime(path)


def worker_ready(path: str | None = None, *, within: float | None = None) -> bool:
    """Did this machine's worker hear from its broker within `within` seconds (three heartbeats)?"""
    path = path or settings.UPLOADER_WORKER_READY_FILE
    within = within if within is not None else 3 * settings.UPLOADER_HEARTBEAT_SECONDS + 5
    try:
        return time.time() - os.stat(path).st_mtime <= within
    except OSError:
        return False


def _age(moment, now):
    return None if moment is None else round((now - moment).total_seconds(), 1)


def pipeline_report() -> dict:
    """What /healthz/pipeline answers: the live workers, the queues and the outbox, each with its
    age, and `ok` false when one passes its bound."""
    now = timezone.now()
    bound = settings.UPLOADER_HEALTH_MAX_AGE_SECONDS
    fresh_after = now - dt.timedelta(seconds=settings.UPLOADER_HEALTH_WORKER_SECONDS)
    beats = list(WorkerHeartbeat.objects.filter(seen_at__gte=fresh_after).order_by("hostname"))
    workers = [
        {
            "hostname": b.hostname,
            "seen_s_ago": _age(b.seen_at, now),
            "last_task_s_ago": _age(b.last_task_at, now),
            "last_event_s_ago": _age(b.last_event_at, now),
            "tasks_done": b.tasks_done,
            "tasks_running": b.tasks_running,
            "events_applied": b.events_applied,
        }
        for b in beats
    ]
    queues, problems = {}, []
    for name in watched_queues():
        reports = [b.queues[name] for b in beats if name in b.queues]
        since = [dt.datetime.fromisoformat(r["nonempty_since"]) for r in reports if r.get("nonempty_since")]
        oldest = _age(min(since), now) if len(since) == len(reports) and since else (0.0 if reports else None)
        latest = max(beats, key=lambda b: b.seen_at).queues.get(name, {}) if beats else {}
        queues[name] = {
            "visible": latest.get("visible"),
            "in_flight": latest.get("in_flight"),
            "oldest_message_age_s": oldest,
        }
        if name == settings.UPLOADER_EVENTS_DLQ:
            continue  # dead letters wait for an operator; reported, not a liveness failure
        if oldest is not None and oldest > bound:
            problems.append(f"{name}: a message has waited {oldest:.0f}s (bound {bound}s)")
    owed = OutboxMessage.objects.count()
    outbox_age = None
    if owed:
        from uploader.services import outbox

        # The relay may deliver the last owed row between the count and this read: then none waits.
        oldest = outbox.oldest_age_seconds()
        outbox_age = None if oldest is None else round(oldest, 1)
        if outbox_age is not None and outbox_age > bound:
            problems.append(f"outbox: owed work has waited {outbox_age:.0f}s (bound {bound}s)")
    if not beats:
        problems.append(f"no worker has reported in {settings.UPLOADER_HEALTH_WORKER_SECONDS}s")
    scanner = _scanner_report()
    if not scanner["ok"]:
        problems.append(f"scanner: {scanner['error']} (uploads wait for it)")
    return {
        "ok": not problems,
        "problems": problems,
        "workers": workers,
        "queues": queues,
        "outbox": {"owed": owed, "oldest_s": outbox_age},
        "scanner": scanner,
    }


def _scanner_report() -> dict:
    """The malware scanner: what it is, whether it answers (clamd's version and signatures), and
    how many uploads wait for it."""
    from uploader.inspection import scanning

    waiting = Upload.objects.filter(status=Upload.Status.PROCESSING, scan_status="").count()
    try:
        version = scanning.scanner_version(timeout=3)
    except scanning.ScannerUnavailable as exc:
        return {"kind": settings.UPLOADER_SCANNER, "ok": False, "error": str(exc), "processing": waiting}
    return {"kind": settings.UPLOADER_SCANNER, "ok": True, "version": version, "processing": waiting}
