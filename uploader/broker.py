"""Celery's SQS transport, with kombu 5.7.0's outage bug worked around, and its SQS clients
instrumented like ours for the record of AWS calls by role (uploader/callrecord.py).

On a ReceiveMessage that times out or gets a 5xx (an endpoint that is briefly unreachable),
kombu's async client answers an empty *list* (`AsyncAWSQueryConnection._on_list_ready`), and the
SQS channel then calls `.get("Messages")` on it (`Channel._on_messages_ready`). The AttributeError
surfaces as "Error in timer" and ends that queue's polling chain for good: the worker stays up and
consumes nothing until restarted. Here such an answer counts as "nothing received this time", so
polling goes on. Drop `_on_messages_ready` once a kombu release with the fix is pinned.
"""

from kombu.transport import SQS

from . import callrecord


class Channel(SQS.Channel):
    def new_sqs_client(self, *args, **kwargs):
        client = super().new_sqs_client(*args, **kwargs)
        callrecord.instrument(client)
        return client

    def _on_messages_ready(self, queue, qname, messages):
        if not isinstance(messages, dict):  # [] after a timeout or a 5xx
            messages = {}
        return super()._on_messages_ready(queue, qname, messages)


class Transport(SQS.Transport):
    Channel = Channel
