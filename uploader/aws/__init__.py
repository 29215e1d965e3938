"""The only module that builds AWS clients: one of each per process, from settings.

Clients are built lazily (never at import time, so never before Celery forks) and keyed by
process id, because a boto3 client's connection pool must not be shared across a fork.
"""

import datetime as dt
import os
import threading

import boto3
import botocore.utils
from botocore.config import Config
from django.conf import settings
from django.core.signals import setting_changed

from uploader.aws import callrecord

_lock = threading.RLock()  # client() builds the session under it too
# Held by whatever builds a client from the shared session (a boto3 session is not thread-safe).
building = _lock
_clients = {}

_ENDPOINT_SETTINGS = {
    "s3": "AWS_ENDPOINT_URL_S3",
    "sqs": "AWS_ENDPOINT_URL_SQS",
    "dynamodb": "AWS_ENDPOINT_URL_DYNAMODB",
    # Provisioning and the tests only; the application itself never calls these.
    "cloudformation": "AWS_ENDPOINT_URL",
    "iam": "AWS_ENDPOINT_URL",
    "cognito-idp": "AWS_ENDPOINT_URL",
}


def _config(service):
    retries = {"max_attempts": 3, "mode": "standard"}
    if service == "s3":
        # SigV4 always: boto3 falls back to SigV2 for custom endpoints, and SigV2 pins no headers.
        return Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if settings.AWS_ENDPOINT_URL_S3 else "auto"},
            retries=retries,
            connect_timeout=5,
            read_timeout=30,
        )
    return Config(retries=retries, connect_timeout=5, read_timeout=30)


def session():
    key = (os.getpid(), "session")
    found = _clients.get(key)
    if found is None:
        with _lock:
            if key not in _clients:
                built = boto3.session.Session(
                    aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
                    aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
                    region_name=settings.AWS_REGION,
                )
                # botocore's own hook (the AWS CLI sets it too), for every client built from here on.
                factory = built._session.get_component("response_parser_factory")
                factory.set_parser_defaults(timestamp_parser=parse_timestamp)
                _clients[key] = built
            found = _clients[key]
    return found


def parse_timestamp(value):
    """A timestamp in an AWS answer, as botocore's own parser gives it (an aware datetime), the
    ISO 8601 ones of XML bodies by the standard library: botocore's dateutil parse was a third
    of the CPU of a ListParts answer, which complete reads for every part (README, Benchmarks).
    Other forms (an HTTP date in a header, epoch seconds) go to botocore's parser."""
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    return botocore.utils.parse_timestamp(value)


def client(service):
    key = (os.getpid(), service)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _clients:
            built = session().client(
                service,
                endpoint_url=getattr(settings, _ENDPOINT_SETTINGS[service]) or None,
                config=_config(service),
            )
            callrecord.instrument(built)
            _clients[key] = built
        return _clients[key]


def frozen_credentials():
    """The clients' credentials as of now (an instance role's are refreshed when due), for
    botocore's signers used directly."""
    return session().get_credentials().get_frozen_credentials()


def s3():
    return client("s3")


def sqs():
    return client("sqs")


def dynamodb():
    return client("dynamodb")


def reset_clients(**kwargs):
    _clients.clear()


def connect_setting_changed():
    def _on_change(setting, **kwargs):
        if setting.startswith("AWS_"):
            reset_clients()

    setting_changed.connect(_on_change, weak=False, dispatch_uid="uploader.aws.reset")


def error_code(exc):
    """The AWS error code of a botocore ClientError, or '' for anything else."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def queue_url(name):
    return sqs().get_queue_url(QueueName=name)["QueueUrl"]
