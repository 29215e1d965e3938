"""The S3 event dead-letter queue: look at what ended there, and send it back once fixed.
(StartMessageMoveTask is not everywhere, so redriving is receive + send + delete.)"""

from django.conf import settings

from uploader import aws


def _receive(url, max_messages):
    sqs, seen = aws.sqs(), 0
    while seen < max_messages:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, max_messages - seen),
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return
        seen += len(batch)
        yield from batch


def peek(max_messages=100):
    """The messages in the dead-letter queue, left there (made visible again at once)."""
    sqs, url = aws.sqs(), aws.queue_url(settings.UPLOADER_EVENTS_DLQ)
    found = list(_receive(url, max_messages))
    for message in found:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return found


def redrive(max_messages=1000):
    """Move dead letters back to the event queue; returns how many."""
    sqs = aws.sqs()
    dlq, queue = aws.queue_url(settings.UPLOADER_EVENTS_DLQ), aws.queue_url(settings.UPLOADER_EVENTS_QUEUE)
    moved = 0
    for message in _receive(dlq, max_messages):
        sqs.send_message(QueueUrl=queue, MessageBody=message["Body"])
        sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
        moved += 1
    return moved
