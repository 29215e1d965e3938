"""The AWS endpoint goes away mid-load and comes back on the same port and data (on AWS: a network
partition, an endpoint blip). With no manual step, within 60 s of its return: every upload is
decided (available, exactly once), DynamoDB holds each row's version, both queues are empty and the
outbox owes nothing. Clients meanwhile never see a 500 (starting an upload needs no AWS call at
all; a PUT or a complete that cannot reach S3 is retried)."""

import collections
import os
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings

from uploader.aws import localaws, mirror
from uploader.models import OutboxMessage, Upload, UploadEvent

from . import aws_emulator
from .factories import jpeg_bytes, make_user
from .helpers import ApiUser, queue_depth, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
CLIENTS, PER_CLIENT = 5, 20


@pytest.fixture
def endpoint():
    """Stop and start the session's emulator (SIGTERM: it keeps its state, as AWS would)."""
    state = aws_emulator._STATE
    port = urlsplit(os.environ["AWS_ENDPOINT_URL"]).port

    class Endpoint:
        def stop(self):
            localaws.stop(state["proc"])

        def start(self):
            state["proc"] = localaws.start(port=port, data_dir=state["dir"])

    control = Endpoint()
    yield control
    if state["proc"].poll() is not None:
        control.start()


def _client_run(api, body, started, errors, statuses):
    """One client's uploads, each retried until the server has taken it: what a real client does."""
    for _ in range(PER_CLIENT):
        record = _until_ok(
            lambda: api.call(
                "POST",
                "/api/v1/uploads/",
                json={"filename": "photo.jpg", "content_type": "image/jpeg", "size": len(body)},
            ),
            statuses,
            errors,
        )
        upload = record.json()["upload"]
        _until_ok(
            lambda: requests.put(upload["url"], data=body, headers=upload["headers"], timeout=10),
            statuses,
            errors,
            accept=(200, 412),
        )  # 412: an earlier try did land
        _until_ok(lambda: api.call("POST", f"/api/v1/uploads/{record.json()['id']}/complete/"), statuses, errors)
        started.append(record.json()["id"])


def _until_ok(call, statuses, errors, accept=(200, 201, 202)):
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            answer = call()
        except requests.RequestException:
            time.sleep(0.3)
            continue
        statuses.append(answer.status_code)
        if answer.status_code in accept:
            return answer
        if answer.status_code >= 500 and answer.status_code != 503:
            errors.append(f"{answer.status_code}: {answer.text[:200]}")
        time.sleep(1.0)  # a 503 or 429: back off, within the per-user rates
    errors.append("a client gave up")
    raise RuntimeError("gave up")


def _converged(ids):
    uploads = list(Upload.objects.filter(pk__in=ids))
    if len(uploads) != len(ids) or any(u.status != "available" for u in uploads):
        return False
    if OutboxMessage.objects.exists():
        return False
    for name in (settings.UPLOADER_EVENTS_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE):
        if queue_depth(name) != (0, 0):
            return False
    return all((item := mirror.get(u.pk)) and item["version"] == {"N": str(u.version)} for u in uploads)


@pytest.mark.parametrize("outage_seconds", [5, 60])
def test_an_endpoint_outage_mid_load_heals_without_a_manual_step(live_server, start_worker, endpoint, outage_seconds):
    worker = start_worker(concurrency=2)
    body = jpeg_bytes()
    clients = []
    for i in range(CLIENTS):
        make_user(f"client{i}", "pw-client-123")
        clients.append(ApiUser(live_server.url, f"client{i}", "pw-client-123"))
    started, errors, statuses = [], [], []
    threads = [
        threading.Thread(target=_client_run, args=(c, body, started, errors, statuses), daemon=True) for c in clients
    ]
    for t in threads:
        t.start()
    wait_for(lambda: len(started) >= 35, timeout=120, what="35 uploads before the outage")

    endpoint.stop()
    time.sleep(outage_seconds)  # the outage itself: the fault being injected, not a wait for a state
    endpoint.start()
    back_at = time.monotonic()

    for t in threads:
        t.join(timeout=240)
    assert not errors, errors[:5]
    assert len(started) == CLIENTS * PER_CLIENT
    try:
        wait_for(
            lambda: _converged(started),
            timeout=max(5.0, 60 - (time.monotonic() - back_at)),
            interval=1,
            what="every upload decided and mirrored, both queues empty, nothing owed",
        )
    except AssertionError as timed_out:  # say which part did not converge
        statuses = sorted(Upload.objects.filter(pk__in=started).values_list("status", flat=True))
        queues = (settings.UPLOADER_EVENTS_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE)
        depths = {name: queue_depth(name) for name in queues}
        raise AssertionError(
            f"{timed_out}: statuses {collections.Counter(statuses)}, owed {OutboxMessage.objects.count()}, "
            f"queues {depths}\n{worker.log()[-3000:]}"
        ) from None
    for upload_id in started:
        assert UploadEvent.objects.filter(upload_id=upload_id, action="available").count() == 1
    assert "Error in timer" not in worker.log()
