"""Point 5 of the media issue: a Django signal after commit, and an HMAC-signed webhook delivered
by a real worker with retries, against a local receiver that fails the first attempts."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import transaction

from uploader import services
from uploader.models import Upload
from uploader.services import webhooks

from .factories import jpeg_bytes
from .helpers import put_object, start_upload, wait_for
from .static_server import recording

SECRET = "a-webhook-secret-for-the-test"
PROJECT = Path(__file__).resolve().parents[1]


def test_a_decided_upload_is_posted_signed_and_retried_until_the_receiver_takes_it(user, start_worker):
    with recording(fail_first=2) as (base, received):
        start_worker(
            UPLOADER_WEBHOOK_URL=f"{base}/hooks/uploads",
            UPLOADER_WEBHOOK_SECRET=SECRET,
            UPLOADER_WEBHOOK_RETRY_BACKOFF="1",
        )
        body = jpeg_bytes()
        upload, instruction = start_upload(user, body)
        assert put_object(instruction, body).status_code == 200
        wait_for(lambda: len(received) >= 3, timeout=60, what="two failed deliveries and a third")
    paths = {path for path, _, _ in received}
    assert paths == {"/hooks/uploads"}
    bodies = {payload for _, _, payload in received}
    assert len(bodies) == 1  # the same event each time
    headers, payload = received[-1][1], received[-1][2]
    expected = "sha256=" + hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Uploader-Signature"], expected)
    event = json.loads(payload)
    upload.refresh_from_db()
    assert event["event"] == "upload.available" == f"upload.{headers['X-Uploader-Event'].split('.')[1]}"
    assert event["upload"]["id"] == str(upload.pk) and event["upload"]["size"] == len(body)
    assert event["delivery"] == headers["X-Uploader-Delivery"] == f"{upload.pk}:{upload.version}"


def test_the_signal_is_sent_after_commit_and_never_for_a_rollback(user, transactional_db):
    heard = []

    def listener(sender, upload_id, status, version, **kwargs):
        heard.append((upload_id, status, Upload.objects.get(pk=upload_id).status))

    webhooks.upload_changed.connect(listener)
    try:
        upload, _ = start_upload(user, b"x" * 10, name="a.txt", content_type="text/plain")
        assert heard == []  # started is not a decision
        with pytest.raises(RuntimeError), transaction.atomic():
            services.upload_delete(upload=Upload.objects.get(pk=upload.pk), actor=user)
            raise RuntimeError("rolled back")
        assert heard == []
        services.upload_delete(upload=Upload.objects.get(pk=upload.pk), actor=user)
        assert heard == [(str(upload.pk), "deleted", "deleted")]  # the change is visible to listeners
    finally:
        webhooks.upload_changed.disconnect(listener)


def test_a_webhook_url_without_a_secret_is_refused():
    env = {**os.environ, "UPLOADER_WEBHOOK_URL": "https://hooks.example.com/uploads", "UPLOADER_WEBHOOK_SECRET": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "UPLOADER_WEBHOOK_SECRET" in result.stderr
