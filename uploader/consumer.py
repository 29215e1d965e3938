"""Consumes the S3 event queue inside `celery worker`, as a bootstep: one worker command runs
the whole pipeline.

A thread long-polls SQS with boto3 and deletes a message only after its events were applied, so a
worker killed mid-message leaves it to be delivered again, and a message that keeps failing is
moved to the dead-letter queue by SQS's redrive policy. A body that can never be read is moved
there at once, so it neither blocks nor loops.
"""

import logging
import threading

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

    def poll_once(self):
        """Receive one batch and apply it; returns how many messages were deleted."""
        from django.db import close_old_connections

        from . import events

        response = self._sqs.receive_message(
            QueueUrl=self._queue,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        done = 0
        for message in response.get("Messages", []):
            close_old_connections()
            try:
                handle_message(message["Body"])
            except events.EventParseError as exc:
                log.error("poison message %s moved to the dead-letter queue: %s", message["MessageId"], exc)
                self._sqs.send_message(QueueUrl=self._dlq, MessageBody=message["Body"])
            except Exception:
                # Left on the queue: redelivered after the visibility timeout, then redriven.
                log.exception("message %s failed; it will be redelivered", message["MessageId"])
                continue
            self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])
            done += 1
        return done


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
                consumer = None
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30)
