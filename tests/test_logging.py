"""Logs as production writes them (UPLOADER_LOG_FORMAT=json): one JSON object per line, each
naming its request (or task, or event) and the upload it concerns, and no secret in any of them."""

import io
import json
import logging
import logging.config
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from rest_framework_simplejwt.tokens import RefreshToken

from uploader.aws import localaws, signing
from uploader.ops import logcontext

from .factories import jpeg_bytes, make_user
from .helpers import ApiUser, database_url, put_object, wait_for

PROJECT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.django_db(transaction=True)


def test_redact_removes_signatures_credentials_tokens_and_passwords(aws_resources):
    url = signing.presign_get(bucket="uploads-test", key="uploads/1/a/x.jpg")
    signature = re.search(r"X-Amz-Signature=([0-9a-f]+)", url).group(1)
    credential = re.search(r"X-Amz-Credential=([^&]+)", url).group(1)
    token = str(RefreshToken.for_user(make_user()).access_token)
    text = (
        f"GET {url} Authorization: Bearer {token} body={{'username': 'a', 'password': 'pw-secret-1'}} "
        f"password=hunter22&next=/ refresh: {token[:20]}.{token[21:]}"
    )
    cleaned = logcontext.redact(text)
    for secret in (signature, credential, token, "pw-secret-1", "hunter22"):
        assert secret not in cleaned, secret
    assert "X-Amz-Signature=[redacted]" in cleaned and "Bearer [redacted]" in cleaned
    assert "uploads/1/a/x.jpg" in cleaned and "next=/" in cleaned  # what is not secret stays readable


class _Keep(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.mark.parametrize("formatter", ["plain", "json"])
def test_a_traceback_is_redacted_in_either_format(formatter, settings):
    """An exception whose text carries a signature, logged through the configured filters and
    formatter: the traceback in the line is redacted, and the record still holds the exception
    for a handler after it (Sentry's, which scrubs its own copy)."""
    config = settings.LOGGING
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.config.DictConfigurator(config).configure_formatter(config["formatters"][formatter]))
    handler.addFilter(logcontext.Context())
    handler.addFilter(logcontext.Redact())
    after = _Keep()
    logger = logging.getLogger("uploader.test-traceback")
    logger.addHandler(handler)
    logger.addHandler(after)
    try:
        raise RuntimeError("GET https://s3/x?X-Amz-Signature=0123456789abcdef0123 refused")
    except RuntimeError:
        logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(after)
    written = handler.stream.getvalue()
    assert "RuntimeError" in written and "X-Amz-Signature=[redacted]" in written
    assert "0123456789abcdef0123" not in written
    [record] = after.records
    assert record.exc_info and record.exc_info[0] is RuntimeError


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_full_upload_logs_json_lines_that_name_it_and_nothing_secret(start_worker, tmp_path):
    make_user("lena", "pw-lena-secret-12345")
    port = localaws.free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "UPLOADER_LOG_FORMAT": "json",
    }
    web_log = tmp_path / "web.log"
    with open(web_log, "wb") as out:
        web = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            cwd=PROJECT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    worker = start_worker(UPLOADER_LOG_FORMAT="json")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base), timeout=60, what="the web server")
        assert (
            requests.post(
                f"{base}/api/v1/auth/token/", json={"username": "lena", "password": "wrong-guess-987"}, timeout=10
            ).status_code
            == 401
        )
        api = ApiUser(base, "lena", "pw-lena-secret-12345")
        body = jpeg_bytes()
        started = api.start(size=len(body))
        assert put_object(started["upload"], body).status_code == 200
        completed = api.call("POST", f"/api/v1/uploads/{started['id']}/complete/", headers={"X-Request-ID": "trace-1"})
        assert completed.headers["X-Request-ID"] == "trace-1"
        wait_for(lambda: api.get(started["id"])["status"] == "available", what="the worker's verdict")
        assert api.call("GET", f"/api/v1/uploads/{started['id']}/download/", allow_redirects=False).status_code == 302
    finally:
        web.terminate()
        web.wait(20)
    upload_id = started["id"]
    web_lines, worker_lines = _json_lines(web_log.read_text()), _json_lines(worker.log())

    # The web process: one line per request, naming it and the upload its URL names.
    [complete] = [line for line in web_lines if "/complete/" in line["message"]]
    assert complete["message"].startswith(f"POST /api/v1/uploads/{upload_id}/complete/ 202")
    assert (complete["request_id"], complete["upload_id"]) == ("trace-1", upload_id)
    assert {"asctime", "levelname", "name"} <= complete.keys()
    assert all(
        re.fullmatch(r"[0-9a-f]{32}|trace-1", line["request_id"])
        for line in web_lines
        if line["name"] == "uploader.request"
    )
    # The worker: its verdict on the upload is a JSON line naming it, and no line in Celery's own format.
    verdicts = [line for line in worker_lines if line["upload_id"] == upload_id and "available" in line["message"]]
    assert verdicts, worker.log()
    assert not re.search(r"^\[\d{4}-\d\d-\d\d", worker.log(), re.MULTILINE), "a line not in JSON"

    # Nothing secret anywhere: no signature, no token, no password (right or wrong).
    for text in (web_log.read_text(), worker.log()):
        assert not re.search(r"X-Amz-Signature=[0-9a-f]{16}", text)
        for secret in (api.tokens["access"], api.tokens["refresh"], "pw-lena-secret-12345", "wrong-guess-987"):
            assert secret not in text


def _answers(base):
    try:
        return requests.get(f"{base}/healthz", timeout=5).status_code in (200, 503)
    except (requests.ConnectionError, requests.Timeout):
        return False
