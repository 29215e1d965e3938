"""A bounded load run through the API, on loopback only, with two workers on the same queues (scale
out): every upload ends with exactly one row, one DynamoDB item and one audit entry per change,
none stuck. Prints uploads/s and the median lag from the PUT to `available`."""

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db.models import Count
from rest_framework_simplejwt.tokens import AccessToken

from uploader import aws
from uploader.models import Upload, UploadEvent

from .factories import jpeg_bytes, make_user
from .helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
CLIENTS, PER_CLIENT = 20, 25  # 500 uploads
DEADLINE = 240  # seconds for everything to settle


def test_500_uploads_from_20_clients_through_two_workers(live_server, start_worker, settings, capsys):
    settings.UPLOADER_PRESIGN_RATE = settings.UPLOADER_ACTION_RATE = "100000/min"
    start_worker(concurrency=1)
    start_worker(concurrency=1)
    users = [make_user(f"load{i}", "pw-load-12345") for i in range(CLIENTS)]
    body = jpeg_bytes(32, 32)
    put_done, errors, lock = {}, [], threading.Lock()

    def client(user):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {AccessToken.for_user(user)}"
        for n in range(PER_CLIENT):
            started = session.post(
                f"{live_server.url}/api/v1/uploads/",
                timeout=60,
                json={"filename": f"{n}.jpg", "content_type": "image/jpeg", "size": len(body)},
            )
            if started.status_code != 201:
                errors.append(started.text)
                continue
            data = started.json()
            stored = requests.put(data["upload"]["url"], data=body, headers=data["upload"]["headers"], timeout=60)
            with lock:
                put_done[data["id"]] = time.time()
            if stored.status_code != 200:
                errors.append(stored.text)
            session.post(f"{live_server.url}/api/v1/uploads/{data['id']}/complete/", timeout=60)

    began = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, users))
    assert not errors, errors[:3]
    total = CLIENTS * PER_CLIENT
    wait_for(
        lambda: Upload.objects.filter(status="available").count() == total,
        timeout=DEADLINE,
        interval=0.5,
        what="every upload to be available",
    )
    elapsed = time.monotonic() - began

    uploads = list(Upload.objects.all())
    assert len(uploads) == total == len({u.key for u in uploads})  # one row per object
    assert not Upload.objects.exclude(status="available").exists()  # none stuck
    # Each client's objects are exactly its rows (its own key prefix: no other test writes there).
    listing = aws.s3().get_paginator("list_objects_v2")
    for user in users:
        pages = listing.paginate(Bucket=settings.UPLOADER_BUCKET, Prefix=f"uploads/{user.pk}/")
        listed = {o["Key"] for page in pages for o in page.get("Contents", [])}
        assert listed == {u.key for u in uploads if u.owner_id == user.pk}, user.username
    # Each change applied once, whichever worker took it: created, completed (or not), available.
    audit = UploadEvent.objects.filter(upload_id__in=[u.pk for u in uploads])
    for action in ("created", "available"):
        assert audit.filter(action=action).count() == total, action
    assert not audit.values("upload_id", "action").annotate(n=Count("id")).filter(n__gt=1).exists()
    expected = {str(u.pk): u.version for u in uploads}
    wait_for(lambda: _mirrored_versions(list(expected)) == expected, timeout=DEADLINE, interval=1, what="the mirror")
    lags = [u.uploaded_at.timestamp() - put_done[str(u.pk)] for u in uploads]
    with capsys.disabled():
        print(
            f"\nload: {total} uploads from {CLIENTS} clients in {elapsed:.1f} s = {total / elapsed:.1f} uploads/s; "
            f"median PUT-to-available lag {statistics.median(lags) * 1000:.0f} ms"
        )


def _mirrored_versions(ids):
    found = {}
    ddb = aws.dynamodb()
    for i in range(0, len(ids), 100):
        keys = [{"id": {"S": upload_id}} for upload_id in ids[i : i + 100]]
        request = {"uploads": {"Keys": keys, "ProjectionExpression": "id, version"}}
        while request:
            response = ddb.batch_get_item(RequestItems=request)
            for item in response["Responses"].get("uploads", []):
                found[item["id"]["S"]] = int(item["version"]["N"])
            request = response.get("UnprocessedKeys") or None
    return found
