"""Sentry, switched on by SENTRY_DSN alone: a process started with it sends an error (with the
breadcrumbs logged before it) to the DSN's server, here a local recorder, and sends no presigned
URL signature, token or password; without it nothing is set up."""

import json
import os
import subprocess
import sys
from pathlib import Path

from .helpers import database_url
from .static_server import recording

PROJECT = Path(__file__).resolve().parents[1]
FAILING = """
import logging, sentry_sdk
from uploader.aws import signing
from rest_framework_simplejwt.tokens import AccessToken
url = signing.presign_get(bucket="uploads-test", key="uploads/1/photo.jpg")
token = str(AccessToken())
logging.getLogger("uploader.aws.objects").warning("fetching %s", url)  # a breadcrumb
try:
    raise RuntimeError(f"S3 refused {url} (Authorization: Bearer {token})")
except RuntimeError:
    logging.getLogger("uploader.tasks").exception("verify failed; password=hunter2-secret-value")
print("ACTIVE", sentry_sdk.get_client().is_active(), flush=True)
print("SIGNATURE", url.split("X-Amz-Signature=")[1][:16], "TOKEN", token, flush=True)
sentry_sdk.flush(10)
"""


def _run(env):
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", FAILING],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": database_url(), **env},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sentry_gets_the_error_without_secrets(aws_resources, db):
    with recording() as (base, received):
        result = _run({"SENTRY_DSN": f"{base.replace('http://', 'http://publickey@')}/42"})
    assert result.returncode == 0, result.stderr
    assert "ACTIVE True" in result.stdout
    signature = result.stdout.split("SIGNATURE ")[1].split()[0]
    token = result.stdout.split("TOKEN ")[1].split()[0]
    envelopes = [body.decode() for path, _, body in received if path.startswith("/api/42/envelope/")]
    assert envelopes, received
    sent = "\n".join(envelopes)
    events = [json.loads(line) for line in sent.splitlines() if line.startswith("{") and '"exception"' in line]
    [event] = events
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["logentry"]["message"].startswith("verify failed")
    assert any("fetching" in (crumb.get("message") or "") for crumb in event["breadcrumbs"]["values"])
    for secret in (signature, token, "hunter2-secret-value"):
        assert secret not in sent
    assert "X-Amz-Signature=[redacted]" in sent


def test_without_a_dsn_sentry_is_off(aws_resources, db):
    result = _run({"SENTRY_DSN": ""})
    assert result.returncode == 0, result.stderr
    assert "ACTIVE False" in result.stdout
