"""The quota holds bytes from presign until the upload ends: expiry, rejection and deletion each
give them back (abort is tested with the API)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from uploader import services
from uploader.models import Upload, UploadEvent
from uploader.services import selectors

from .factories import jpeg_bytes
from .helpers import api_start, put_object, start_upload

pytestmark = pytest.mark.django_db


def _held(user):
    return selectors.upload_bytes_held(owner_id=user.pk)


def test_an_expired_upload_gives_its_bytes_back(user, aws_resources):
    upload, _put = start_upload(user, jpeg_bytes())
    assert _held(user) == upload.size
    assert services.upload_expire_stale(now=timezone.now() + dt.timedelta(days=2)) == 1
    assert _held(user) == 0


def test_a_rejected_upload_gives_its_bytes_back(user, aws_resources):
    body = b"MZ not a picture" + bytes(100)
    upload, put = start_upload(user, body)
    assert put_object(put, body).status_code == 200
    assert services.upload_verify(upload_id=upload.pk).status == "rejected"
    assert _held(user) == 0


def test_a_deleted_upload_gives_its_bytes_back(user, aws_resources):
    body = jpeg_bytes()
    upload, put = start_upload(user, body)
    assert put_object(put, body).status_code == 200
    upload = services.upload_verify(upload_id=upload.pk)
    assert (upload.status, _held(user)) == ("available", len(body))
    services.upload_delete(upload=upload)
    assert _held(user) == 0


def test_an_aborted_upload_gives_its_bytes_back_once_however_often_it_is_aborted(api, user, aws_resources):
    started = api_start(api, size=5000).json()
    assert _held(user) == 5000
    for _ in range(2):
        assert api.post(f"/api/v1/uploads/{started['id']}/abort/").status_code == 200
    assert _held(user) == 0
    assert services.upload_abort(upload=Upload.objects.get(pk=started["id"])).status == "expired"  # the service too
    trail = UploadEvent.objects.filter(upload_id=started["id"]).order_by("id")
    assert list(trail.values_list("action", flat=True)) == ["created", "expired"]


def test_a_single_put_over_the_quota_is_refused_before_anything_is_signed(api, user, settings, aws_resources):
    settings.UPLOADER_USER_QUOTA = 10_000
    assert api_start(api, size=8000).status_code == 201
    refused = api_start(api, size=3000)
    assert (refused.status_code, refused.json()["code"]) == (413, "quota_exceeded")
    assert "upload" not in refused.json() and Upload.objects.count() == 1


def test_with_no_quota_the_worker_judges_by_content_alone(user, settings, aws_resources):
    settings.UPLOADER_USER_QUOTA = 0
    body = jpeg_bytes()
    upload, put = start_upload(user, body)
    assert services.upload_verify(upload_id=upload.pk).status == "pending"  # nothing stored yet: nothing to judge
    assert put_object(put, body).status_code == 200
    assert services.upload_verify(upload_id=upload.pk).status == "available"
    assert services.upload_verify(upload_id=upload.pk).version == 3  # decided: a second check changes nothing


def test_the_quota_sum_reads_one_index_and_no_upload_rows(user):
    """Presign sums what the user holds while it holds the lock that guards the quota, so the sum
    must cost an index range however many uploads there are: the database's own plan says so."""
    with CaptureQueriesContext(connection) as captured:
        selectors.upload_bytes_held(owner_id=user.pk)
    (query,) = [q["sql"] for q in captured.captured_queries if "SUM(" in q["sql"]]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            plan = " ".join(str(row) for row in cursor.execute(f"EXPLAIN QUERY PLAN {query}").fetchall())
            assert "COVERING INDEX upload_quota_held" in plan, plan
        else:  # an empty test table would be read whole: ask what it does when scanning is dear
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute(f"EXPLAIN {query}")
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "Index Only Scan using upload_quota_held" in plan, plan
