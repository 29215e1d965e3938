"""Celery's SQS transport, made to recover in seconds, with kombu 5.7.0's outage bug worked around,
and its SQS clients instrumented like ours for the record of AWS calls by role (callrecord.py).

Recovery: the task queue's visibility timeout is short (UPLOADER_TASK_VISIBILITY_TIMEOUT, 30 s),
and every message a worker holds (running, or prefetched and waiting) is kept invisible by a
heartbeat in the worker's main process that extends it every third of the timeout, the way the
event consumer keeps its own messages. A running task is so never handed to a second worker, and a
killed worker's messages come back within the timeout, not the two minutes a long fixed timeout
cost. An acknowledgement whose delete could not reach SQS (an endpoint outage) is not left to wait
out the timeout either: the task's work is done, so the heartbeat deletes the message as soon as
SQS answers again.

The outage bug: on a ReceiveMessage that times out or gets a 5xx, kombu's async client answers an
empty *list* (`AsyncAWSQueryConnection._on_list_ready`), and the SQS channel then calls
`.get("Messages")` on it (`Channel._on_messages_ready`). The AttributeError surfaces as "Error in
timer" and ends that queue's polling chain for good. Here such an answer counts as "nothing
received this time", so polling goes on. Drop that override once a kombu release with the fix is
pinned.
"""

import logging
import threading

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from kombu.transport import SQS, virtual

from uploader import aws
from uploader.aws import callrecord
from uploader.worker.worker_thread import ThreadStep

log = logging.getLogger(__name__)
BATCH = 10  # SQS's most entries per batch call
_STALE_HANDLE = ("InvalidParameterValue", "ReceiptHandleIsInvalid", "AWS.SimpleQueueService.NonExistentQueue")


class Holdings:
    """The task messages this process has received and not yet acknowledged (receipt handle to
    queue URL), and the acknowledged ones whose delete SQS has not confirmed yet."""

    def __init__(self):
        self._lock = threading.Lock()
        self.held: dict[str, str] = {}
        self.undeleted: dict[str, str] = {}

    def hold(self, receipt: str, queue_url: str) -> None:
        with self._lock:
            self.held[receipt] = queue_url

    def release(self, receipt: str) -> str | None:
        with self._lock:
            return self.held.pop(receipt, None)

    def owe_delete(self, receipt: str, queue_url: str) -> None:
        with self._lock:
            self.undeleted[receipt] = queue_url

    def snapshot(self) -> tuple[dict[str, str], dict[str, str]]:
        with self._lock:
            return dict(self.held), dict(self.undeleted)

    def deleted(self, receipts) -> None:
        with self._lock:
            for receipt in receipts:
                self.undeleted.pop(receipt, None)


holdings = Holdings()


class Channel(SQS.Channel):
    def new_sqs_client(self, *args, **kwargs):
        client = super().new_sqs_client(*args, **kwargs)
        callrecord.instrument(client)
        return client

    def _on_messages_ready(self, queue, qname, messages):
        if not isinstance(messages, dict):  # [] after a timeout or a 5xx
            messages = {}
        return super()._on_messages_ready(queue, qname, messages)

    def _message_to_python(self, message, queue_name, q_url):
        payload = super()._message_to_python(message, queue_name, q_url)
        if queue_name not in self._noack_queues:
            holdings.hold(message["ReceiptHandle"], q_url)  # kept invisible until acknowledged
        return payload

    def basic_ack(self, delivery_tag, multiple=False):
        """Delete the message; when SQS cannot be reached, the delete is owed (the heartbeat makes
        it once SQS answers) instead of waiting out the visibility timeout to run the task again."""
        queue_url = holdings.release(delivery_tag)
        if queue_url is None:
            return super().basic_ack(delivery_tag, multiple)
        try:
            message = self.qos.get(delivery_tag).delivery_info
            queue = self.canonical_queue_name(message["routing_key"]) if "routing_key" in message else None
            self.sqs(queue=queue).delete_message(QueueUrl=queue_url, ReceiptHandle=delivery_tag)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "AccessDenied":
                virtual.Channel.basic_ack(self, delivery_tag)
                raise SQS.AccessDeniedQueueException(exc.response["Error"].get("Message", "")) from exc
            if code not in _STALE_HANDLE:
                holdings.owe_delete(delivery_tag, queue_url)
        except (BotoCoreError, OSError, KeyError):
            holdings.owe_delete(delivery_tag, queue_url)
        virtual.Channel.basic_ack(self, delivery_tag)

    def basic_reject(self, delivery_tag, requeue=False):
        if not requeue:  # a requeued one is let go by _restore, which makes it visible again
            holdings.release(delivery_tag)
        return super().basic_reject(delivery_tag, requeue=requeue)

    def _restore(self, message, *args, **kwargs):
        """kombu gives a message back (a task requeued because its pool process died, or the
        prefetched ones at a clean shutdown) by making that same message visible again in a few
        seconds (SQS `_put` of a redelivered message): the heartbeat must stop extending it."""
        holdings.release(message.delivery_tag)
        return super()._restore(message, *args, **kwargs)


class Transport(SQS.Transport):
    Channel = Channel


class TaskVisibilityStep(ThreadStep):
    """The heartbeat of the task messages this worker holds: extends their visibility every third
    of the timeout, and makes the deletes that an outage kept from SQS."""

    thread_name = "task-visibility"

    def run(self):
        timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
        while not self._stop.wait(max(1.0, timeout / 3)):
            held, undeleted = holdings.snapshot()
            try:
                sqs = aws.sqs()
                self._batches(sqs.change_message_visibility_batch, held, {"VisibilityTimeout": timeout})
                holdings.deleted(self._batches(sqs.delete_message_batch, undeleted, {}))
            except (BotoCoreError, ClientError) as exc:  # SQS away: tried again at the next beat
                log.warning(
                    "could not reach the task queue (%s): tried again in %ss", exc.__class__.__name__, timeout / 3
                )

    @staticmethod
    def _batches(call, receipts: dict[str, str], extra: dict) -> list[str]:
        """`call` for every receipt handle, ten to a request per queue; returns the handles done
        (or no longer valid: a message already deleted, or handed out again)."""
        done = []
        by_queue: dict[str, list[str]] = {}
        for receipt, queue_url in receipts.items():
            by_queue.setdefault(queue_url, []).append(receipt)
        for queue_url, handles in by_queue.items():
            for start in range(0, len(handles), BATCH):
                chunk = handles[start : start + BATCH]
                entries = [{"Id": str(i), "ReceiptHandle": h, **extra} for i, h in enumerate(chunk)]
                answer = call(QueueUrl=queue_url, Entries=entries)
                failed = {int(f["Id"]): f for f in answer.get("Failed", [])}
                for i, handle in enumerate(chunk):
                    if i not in failed or failed[i].get("Code") in _STALE_HANDLE:
                        done.append(handle)
        return done
