import time

import pytest
import requests
from django.conf import settings
from rest_framework.test import APIClient

from uploader import aws, provisioning
from uploader.consumer import EventQueueConsumer

from .factories import make_user


@pytest.fixture(scope="session")
def aws_resources():
    """The bucket, queues and table, provisioned once on the session's emulator."""
    aws.reset_clients()
    provisioning.setup_all()
    purge_queue(settings.UPLOADER_EVENTS_QUEUE)  # the s3:TestEvent from configuring notifications
    return settings.UPLOADER_BUCKET


def purge_queue(name):
    sqs = aws.sqs()
    url = aws.queue_url(name)
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def user(db):
    return make_user()


@pytest.fixture
def other_user(db):
    return make_user("bob", "pw-bob-12345")


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def consumer(aws_resources):
    return EventQueueConsumer()


@pytest.fixture
def drain(consumer):
    """Run the event consumer until `done()` holds (events take a moment to reach SQS)."""

    def _drain(done, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            consumer.poll_once()
            if done():
                return
        raise AssertionError("the event pipeline did not reach the expected state in time")

    return _drain


def put_object(instruction, body, **header_overrides):
    headers = {**instruction["headers"], **header_overrides}
    return requests.request(instruction["method"], instruction["url"], data=body, headers=headers, timeout=30)
