"""What each log line is about, and nothing secret in it.

Every line carries `request_id` (the HTTP request's, echoed in `X-Request-ID`; a Celery task's
id; an S3 event message's id; an outbox row's) and `upload_id` (the upload the line concerns, or
"-"), so one upload's path through the web process, the worker and its tasks can be followed
with a single search. `Redact` removes what must never be written down: presigned URLs'
signatures and credentials, bearer tokens and JWTs, passwords.
"""

import contextlib
import contextvars
import logging
import re
import time
import uuid

import pythonjsonlogger.json
from celery import signals

from uploader.aws import callrecord

request_id = contextvars.ContextVar("request_id", default="-")
upload_id = contextvars.ContextVar("upload_id", default="-")
_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # an X-Request-ID from a proxy, kept only if plain
_requests = logging.getLogger("uploader.request")


@contextlib.contextmanager
def bound(*, request: str, upload: object = "-"):
    """Lines logged inside the block name `request` and `upload`; the previous values come back."""
    tokens = request_id.set(request), upload_id.set(str(upload))
    try:
        yield
    finally:
        request_id.reset(tokens[0])
        upload_id.reset(tokens[1])


def about(upload: object) -> None:
    """The rest of the current request, task or event concerns this upload. Outside one (a
    management command going through many uploads) lines keep "-" rather than a stale id."""
    if request_id.get() != "-":
        upload_id.set(str(upload))


class Context(logging.Filter):
    def filter(self, record):
        record.request_id = request_id.get()
        record.upload_id = upload_id.get()
        return True


_SECRETS = [
    (re.compile(r"(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s\"'<>]+", re.IGNORECASE), r"\1[redacted]"),
    (re.compile(r"(\bBearer\s+)[^\s\"',]+", re.IGNORECASE), r"\1[redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[jwt redacted]"),
    (
        re.compile(
            r"""(["']?\b(?:password\d?|secret|refresh|access_token|token)["']?\s*[:=]\s*["']?)[^\s"'&,}]+""", re.I
        ),
        r"\1[redacted]",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class Redact(logging.Filter):
    """Rewrites the message (and a traceback's text) of every record without its secrets. The
    exception itself stays on the record for Sentry, which scrubs its own copy (uploader/ops/sentry.py)."""

    def filter(self, record):
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:  # formatted here, once, without its secrets (formatters use exc_text)
            record.exc_text = redact(record.exc_text or logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(pythonjsonlogger.json.JsonFormatter):
    """JSON lines; this formatter formats a traceback itself (not from exc_text): redacted too."""

    def formatException(self, ei):
        return redact(super().formatException(ei))


class RequestIdMiddleware:
    """Names each request (the client's or proxy's X-Request-ID when it is plain, else a new one)
    and the upload its URL names, for every line logged while it is handled; ends with one line
    for the request itself (its path only: a query string may carry a token)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        name = given if _CLIENT_ID.fullmatch(given) else uuid.uuid4().hex
        started = time.monotonic()
        with bound(request=name), callrecord.acting_as(callrecord.WEB):
            response = self.get_response(request)
            _requests.info(
                "%s %s %s %.0fms",
                request.method,
                request.path,
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
        response["X-Request-ID"] = name
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        upload = view_kwargs.get("upload_id")
        if isinstance(upload, uuid.UUID):  # the API's /uploads/<uuid>/... (Companion's is S3's own id)
            about(upload)


_task_tokens: dict[str, tuple] = {}


@signals.task_prerun.connect
def _task_started(task_id=None, args=None, **kwargs):
    upload = args[0] if args else "-"
    _task_tokens[task_id] = (request_id.set(task_id), upload_id.set(str(upload)))


@signals.task_postrun.connect
def _task_ended(task_id=None, **kwargs):
    tokens = _task_tokens.pop(task_id, None)
    if tokens:
        request_id.reset(tokens[0])
        upload_id.reset(tokens[1])
