"""A record of the AWS operations each process role performs: the evidence for least privilege.

With `UPLOADER_AWS_CALL_LOG` set (the test settings set it), every request signed by a client
that `uploader.aws` built, or by Celery's SQS transport, is appended to that file as one JSON line:
the role acting, the operation (`s3:PutObject`) and what it acts on (`bucket/key`, a queue's or
a table's name). Presigned URLs and POST forms are recorded too: S3 runs them with the signer's
permissions. The role is "web" while an HTTP request is handled and "worker" in a Celery worker
process, in a task, an outbox delivery or an S3 event poll (wherever those run); calls made in no
role (a test's own checks, provisioning) are not recorded. `tests/test_least_privilege.py`
compares the record with the roles `infra/uploader.yaml` grants.
"""

import contextlib
import contextvars
import json
import os
import threading
from urllib.parse import parse_qs, unquote, urlsplit

from celery import signals
from django.conf import settings

WEB = "web"
WORKER = "worker"
_role: contextvars.ContextVar[str | None] = contextvars.ContextVar("aws_role", default=None)
_process_role: str | None = None
_seen: set[tuple[int, str, str, str]] = set()
_lock = threading.Lock()


@contextlib.contextmanager
def acting_as(role: str):
    token = _role.set(role)
    try:
        yield
    finally:
        _role.reset(token)


def current_role() -> str | None:
    return _role.get() or _process_role


@signals.worker_init.connect
def _in_worker(**kwargs):
    """Everything a worker process does (its SQS transport, its threads) is the worker's."""
    global _process_role
    _process_role = WORKER


_task_tokens: dict[str, contextvars.Token] = {}


@signals.task_prerun.connect
def _task_started(task_id=None, **kwargs):
    _task_tokens[task_id] = _role.set(WORKER)  # an eager task in a web request is still worker's work


@signals.task_postrun.connect
def _task_ended(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        _role.reset(token)


def instrument(client) -> None:
    """Record what `client` signs, where the settings ask for a record."""
    if getattr(settings, "UPLOADER_AWS_CALL_LOG", ""):
        client.meta.events.register("before-sign", _record, unique_id="uploader-callrecord")


def signed_directly(url, headers, operation_name, signing_name="s3") -> None:
    """Record a PUT signed outside the clients (uploader.aws.signing's QuerySigner), which the
    client's before-sign event never sees."""
    if getattr(settings, "UPLOADER_AWS_CALL_LOG", ""):
        from botocore.awsrequest import AWSRequest

        _record(AWSRequest(method="PUT", url=url, headers=headers), operation_name, signing_name)


def _record(request, operation_name, signing_name, **kwargs):
    role = current_role()
    if role is None:
        return
    action = f"{signing_name}:{operation_name}"
    subject = _subject(signing_name, request)
    key = (os.getpid(), role, action, subject)
    with _lock:
        if key in _seen:
            return
        _seen.add(key)
    line = json.dumps({"role": role, "action": action, "resource": subject}) + "\n"
    fd = os.open(settings.UPLOADER_AWS_CALL_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())  # one write per line: lines from many processes never interleave
    finally:
        os.close(fd)


def _params(request) -> dict:
    body = request.body or b""
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if body.startswith("{"):
        return json.loads(body)
    form = parse_qs(body or urlsplit(request.url).query)
    return {name: values[0] for name, values in form.items()}


def _subject(service: str, request) -> str:
    """`bucket` or `bucket/key` (path-style URLs, as on the emulator), a queue's name, a table's
    name (`table/index/name` for an index), or "*"."""
    if service == "s3":
        path = unquote(urlsplit(request.url).path).lstrip("/")
        fields = request.context.get("s3-presign-post-fields") or {}
        if fields.get("key"):
            path = f"{path.rstrip('/')}/{fields['key']}"
        return path or "*"
    params = _params(request)
    if service == "sqs":
        queue = params.get("QueueUrl") or params.get("QueueName") or ""
        return queue.rstrip("/").rsplit("/", 1)[-1] or "*"
    if service == "dynamodb":
        table = params.get("TableName") or next(iter(params.get("RequestItems") or {}), "*")
        return f"{table}/index/{params['IndexName']}" if params.get("IndexName") else table
    return "*"
