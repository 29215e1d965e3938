"""Consumes the S3 event queue inside `celery worker`, as a bootstep: one worker command runs
the whole pipeline.

A thread long-polls SQS with boto3 and deletes a message only after its events were applied, so a
worker killed mid-message leaves it to be delivered again, and a message that keeps failing is
moved to the dead-letter queue by SQS's redrive policy. A body that can never be read is moved
there at once, so it neither blocks nor loops.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from celery import bootsteps

log = logging.getLogger(__name__)


def handle_message(body):
    """Apply every event in one SQS message body. Raises EventParseError for a poison body."""
    from . import events, services

    for event in events.parse_message(body):
        services.upload_record_event(event=event)


class EventQueueConsumer:
    def __init__(self):
        from django.conf import settings

        from . import aws

        self._sqs = aws.sqs()
        self._queue = aws.queue_url(settings.UPLOADER_EVENTS_QUEUE)
        self._dlq = aws.queue_url(settings.UPLOADER_EVENTS_DLQ)
        self._wait = settings.UPLOADER_EVENTS_WAIT_SECONDS
        # Events are I/O (HEAD, a ranged GET, the database): a batch is applied side by side.
        self._pool = ThreadPoolExecutor(settings.UPLOADER_EVENTS_CONCURRENCY, thread_name_prefix="s3-event")

    def poll_once(self):
        """Receive one batch and apply it; returns how many messages were deleted."""
        response = self._sqs.receive_message(
            QueueUrl=self._queue,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return sum(self._pool.map(self._apply, response.get("Messages", [])))

    def _apply(self, message):
        from django.db import connection

        from . import events

        try:
            handle_message(message["Body"])
        except events.EventParseError as exc:
            log.error("poison message %s moved to the dead-letter queue: %s", message["MessageId"], exc)
            self._sqs.send_message(QueueUrl=self._dlq, MessageBody=message["Body"])
        except Exception:
            # Left on the queue: redelivered after the visibility timeout, then redriven.
            log.exception("message %s failed; it will be redelivered", message["MessageId"])
            return 0
        finally:
            connection.close()  # this thread's own connection; never left half-used
        self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])
        return 1

    def close(self):
        self._pool.shutdown(wait=True)


class S3EventConsumerStep(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Pool"}

    def __init__(self, worker, **kwargs):
        self._stop = threading.Event()
        self._thread = None

    def start(self, worker):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="s3-event-consumer", daemon=True)
        self._thread.start()

    def stop(self, worker):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self):
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
                backoff = min(backoff * 2, 30)
