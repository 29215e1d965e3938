"""Consumes the S3 event queue inside `celery worker`, as a bootstep: one worker command runs
the whole pipeline.

A thread long-polls SQS with boto3 and deletes a message only after its events were applied, so a
worker killed mid-message leaves it to be delivered again, and a message that keeps failing is
moved to the dead-letter queue by SQS's redrive policy. A body that can never be read is moved
there at once, so it neither blocks nor loops.
"""

import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

from uploader import aws, services
from uploader.aws import callrecord
from uploader.domain import events
from uploader.ops import logcontext
from uploader.worker import liveness, relay
from uploader.worker.worker_thread import ThreadStep

log = logging.getLogger(__name__)


def handle_message(body):
    """Apply every event in one SQS message body. Raises EventParseError for a poison body. What
    each change owes (its mirror write) is delivered right after it commits, by this thread."""
    for event in events.parse_message(body):
        upload = services.upload_record_event(event=event)
        relay.deliver_now(getattr(upload, "owed", []))  # what the event's change owed, now


class EventQueueConsumer:
    def __init__(self):
        self._sqs = aws.sqs()
        self._queue = aws.queue_url(settings.UPLOADER_EVENTS_QUEUE)
        self._dlq = aws.queue_url(settings.UPLOADER_EVENTS_DLQ)
        self._wait = settings.UPLOADER_EVENTS_WAIT_SECONDS
        self._visibility = settings.UPLOADER_EVENTS_VISIBILITY_TIMEOUT
        # Events are I/O (HEAD, a ranged GET, the database): a batch is applied side by side.
        self._pool = ThreadPoolExecutor(settings.UPLOADER_EVENTS_CONCURRENCY, thread_name_prefix="s3-event")

    def poll_once(self):
        """Receive one batch and apply it; returns how many messages were deleted."""
        with callrecord.acting_as(callrecord.WORKER):
            return self._poll()

    def _poll(self):
        response = self._sqs.receive_message(
            QueueUrl=self._queue,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait,
            VisibilityTimeout=self._visibility,  # the timeout the heartbeat below extends
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        with self._kept_invisible(messages) as working:
            done = list(self._pool.map(lambda m: self._apply(m, working), messages))
        self._delete([m for m, ok in zip(messages, done, strict=True) if ok])
        liveness.note_event_applied(sum(done))
        return sum(done)

    @contextlib.contextmanager
    def _kept_invisible(self, messages):
        """While messages are being applied, extend their visibility every third of the timeout:
        a slow message is never handed to a second worker, yet a crashed worker's messages come
        back within one (short) timeout."""
        working = {m["MessageId"]: m["ReceiptHandle"] for m in messages}
        stop = threading.Event()

        def heartbeat():
            while not stop.wait(self._visibility / 3):
                entries = [
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": self._visibility}
                    for i, handle in enumerate(list(working.values()))
                ]
                if entries:
                    try:
                        self._sqs.change_message_visibility_batch(QueueUrl=self._queue, Entries=entries)
                    except Exception as exc:  # the next beat tries again
                        log.warning("could not extend the visibility of %d message(s): %s", len(entries), exc)

        beat = threading.Thread(target=heartbeat, name="s3-event-visibility", daemon=True)
        beat.start()
        try:
            yield working
        finally:
            stop.set()
            beat.join()

    def _apply(self, message, working):
        """1 when the message may be deleted (applied, or moved to the dead-letter queue), else 0."""
        try:
            with logcontext.bound(request=f"event-{message['MessageId']}"), callrecord.acting_as(callrecord.WORKER):
                handle_message(message["Body"])
        except events.EventParseError as exc:
            log.error("poison message %s moved to the dead-letter queue: %s", message["MessageId"], exc)
            self._sqs.send_message(QueueUrl=self._dlq, MessageBody=message["Body"])
        except Exception:
            # Left on the queue: redelivered after the visibility timeout, then redriven.
            log.exception("message %s failed; it will be redelivered", message["MessageId"])
            return 0
        finally:
            working.pop(message["MessageId"], None)
            close_old_connections()  # this thread's connection: dropped if broken or past its age
        return 1

    def _delete(self, messages):
        if not messages:
            return
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        failed = self._sqs.delete_message_batch(QueueUrl=self._queue, Entries=entries).get("Failed", [])
        for failure in failed:  # redelivered later and applied again: harmless
            log.warning("could not delete event message %s: %s", failure.get("Id"), failure.get("Message"))

    def close(self):
        self._pool.shutdown(wait=True)


class S3EventConsumerStep(ThreadStep):
    thread_name = "s3-event-consumer"

    def run(self):
        consumer = None
        backoff = 1
        while not self._stop.is_set():
            try:
                if consumer is None:
                    consumer = EventQueueConsumer()
                    log.info("consuming S3 events")
                consumer.poll_once()
                backoff = 1
            except Exception:
                log.exception("event consumer error; retrying in %ss", backoff)
                if consumer is not None:
                    consumer.close()
                consumer = None
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5)  # short: consumption resumes soon after an outage
