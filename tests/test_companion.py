"""Uppy's Companion S3 routes, called as `@uppy/aws-s3` calls them: the same policy, quota and
checks as the rest of the API although the protocol never tells the size; session cookies only
from this site's own pages. (tests/e2e/test_uppy.py drives stock Uppy itself.)"""

import pytest
import requests
from rest_framework.test import APIClient

from uploader import aws
from uploader.models import Upload

from .factories import jpeg_bytes, make_user

pytestmark = pytest.mark.django_db(transaction=True)
BASE = "/api/v1/companion/s3"
MiB = 1024 * 1024


@pytest.fixture
def uppy(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _post_form(instruction, body, name="a.jpg"):
    return requests.post(instruction["url"], data=instruction["fields"], files={"file": (name, body)}, timeout=30)


def test_a_small_file_goes_by_presigned_post_and_becomes_available(uppy, user, drain):
    body = jpeg_bytes()
    answer = uppy.get(f"{BASE}/params", {"filename": "사진.jpg", "type": "image/jpeg", "metadata[name]": "사진.jpg"})
    assert answer.status_code == 200, answer.content
    instruction = answer.json()
    assert instruction["method"] == "POST" and instruction["fields"]["Content-Type"] == "image/jpeg"
    assert _post_form(instruction, body).status_code in (200, 204)
    upload = Upload.objects.get(owner=user, key=instruction["fields"]["key"])
    assert upload.original_filename == "사진.jpg" and upload.size is None
    drain(lambda: Upload.objects.get(pk=upload.pk).status == "available")
    assert Upload.objects.get(pk=upload.pk).stored_size == len(body)


def test_the_form_refuses_more_than_the_allowance_and_a_lie_about_the_type_is_rejected(uppy, user, drain, settings):
    settings.UPLOADER_LEGACY_MAX_SIZE = 1000
    instruction = uppy.get(f"{BASE}/params", {"filename": "big.jpg", "type": "image/jpeg"}).json()
    assert _post_form(instruction, b"\xff" * 1001).status_code == 400  # S3 enforces the policy's range
    instruction = uppy.get(f"{BASE}/params", {"filename": "fake.jpg", "type": "image/jpeg"}).json()
    assert _post_form(instruction, b"<html><script>alert(1)</script></html>").status_code in (200, 204)
    upload = Upload.objects.get(key=instruction["fields"]["key"])
    drain(lambda: Upload.objects.get(pk=upload.pk).status == "rejected")
    assert "not image/jpeg" in Upload.objects.get(pk=upload.pk).status_reason


def test_a_type_that_is_not_allowed_is_refused_before_anything_is_signed(uppy):
    answer = uppy.get(f"{BASE}/params", {"filename": "run.exe", "type": "application/x-msdownload"})
    assert (answer.status_code, answer.json()["code"]) == (415, "unsupported_type")


def _multipart(uppy, name="video.zip", content_type="application/zip"):
    answer = uppy.post(f"{BASE}/multipart", {"filename": name, "type": content_type, "metadata": {}}, format="json")
    assert answer.status_code == 200, answer.content
    return answer.json()["key"], answer.json()["uploadId"]


def _send_parts(uppy, key, upload_id, chunks):
    parts = []
    for number, chunk in enumerate(chunks, 1):
        signed = uppy.get(f"{BASE}/multipart/{upload_id}/{number}", {"key": key}).json()
        put = requests.put(signed["url"], data=chunk, timeout=30)
        assert put.status_code == 200, put.text
        parts.append({"PartNumber": number, "ETag": put.headers["ETag"]})
    return parts


def test_a_multipart_upload_of_undeclared_size_is_listed_completed_and_verified(uppy, user, drain):
    key, upload_id = _multipart(uppy)
    chunks = [b"PK\x03\x04" + b"\x01" * (5 * MiB - 4), b"\x02" * 1024]
    parts = _send_parts(uppy, key, upload_id, chunks)
    listed = uppy.get(f"{BASE}/multipart/{upload_id}", {"key": key}).json()
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, 5 * MiB), (2, 1024)]
    done = uppy.post(f"{BASE}/multipart/{upload_id}/complete?key={key}", {"parts": parts}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["key"] == key
    upload = Upload.objects.get(key=key)
    drain(lambda: Upload.objects.get(pk=upload.pk).status == "available")
    assert Upload.objects.get(pk=upload.pk).stored_size == 5 * MiB + 1024


def test_parts_beyond_the_allowance_are_aborted_and_the_upload_rejected(uppy, settings):
    settings.UPLOADER_LEGACY_MAX_SIZE = 6 * MiB
    key, upload_id = _multipart(uppy)
    parts = _send_parts(uppy, key, upload_id, [b"PK\x03\x04" + b"\x01" * (5 * MiB - 4), b"\x02" * (2 * MiB)])
    done = uppy.post(f"{BASE}/multipart/{upload_id}/complete?key={key}", {"parts": parts}, format="json")
    assert (done.status_code, done.json()["code"]) == (400, "too_large")
    upload = Upload.objects.get(key=key)
    assert upload.status == "rejected"
    assert aws.s3().list_multipart_uploads(Bucket=upload.bucket, Prefix=key).get("Uploads", []) == []


def test_parts_stored_beyond_the_allowance_and_never_completed_are_aborted_by_the_periodic_check(
    uppy, settings, aws_resources
):
    """The attack: parts far over the reservation, sent and never completed, so that complete's
    check never runs. The periodic check (celery beat, UPLOADER_OPEN_PARTS_EVERY) measures them."""
    from uploader import tasks

    settings.UPLOADER_LEGACY_MAX_SIZE = 6 * MiB
    key, upload_id = _multipart(uppy)
    honest_key, honest_id = _multipart(uppy)
    _send_parts(uppy, key, upload_id, [b"PK\x03\x04" + b"\x01" * (5 * MiB - 4), b"\x02" * (5 * MiB)])
    _send_parts(uppy, honest_key, honest_id, [b"PK\x03\x04" + b"\x01" * (5 * MiB - 4)])
    assert tasks.police_open_parts.delay().get() == 1
    upload = Upload.objects.get(key=key)
    assert (upload.status, upload.status_reason) == (
        "rejected",
        f"The parts add up to {10 * MiB} bytes, more than the {6 * MiB} allowed.",
    )
    assert aws.s3().list_multipart_uploads(Bucket=upload.bucket, Prefix=key).get("Uploads", []) == []
    assert Upload.objects.get(key=honest_key).status == "pending"  # within its reservation: left alone
    assert len(aws.s3().list_parts(Bucket=upload.bucket, Key=honest_key, UploadId=honest_id)["Parts"]) == 1


def test_a_part_number_beyond_the_allowance_is_not_signed(uppy, settings):
    settings.UPLOADER_LEGACY_MAX_SIZE = 20 * MiB
    key, upload_id = _multipart(uppy)
    assert uppy.get(f"{BASE}/multipart/{upload_id}/5", {"key": key}).status_code == 200
    refused = uppy.get(f"{BASE}/multipart/{upload_id}/6", {"key": key})
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_part_number")


def test_the_quota_holds_although_the_size_is_never_told(uppy, user, settings):
    settings.UPLOADER_LEGACY_MAX_SIZE = 10 * MiB
    settings.UPLOADER_USER_QUOTA = 25 * MiB
    _multipart(uppy)
    _multipart(uppy)  # 20 MiB held: each holds the allowance until the worker measures it
    refused = uppy.post(f"{BASE}/multipart", {"filename": "c.zip", "type": "application/zip"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (413, "quota_exceeded")
    refused = uppy.get(f"{BASE}/params", {"filename": "d.jpg", "type": "image/jpeg"})
    assert (refused.status_code, refused.json()["code"]) == (413, "quota_exceeded")
    assert Upload.objects.filter(owner=user).count() == 2


def test_cancelling_aborts_and_the_upload_expires(uppy):
    key, upload_id = _multipart(uppy)
    assert uppy.delete(f"{BASE}/multipart/{upload_id}?key={key}").status_code == 200
    upload = Upload.objects.get(key=key)
    assert upload.status == "expired"
    assert aws.s3().list_multipart_uploads(Bucket=upload.bucket, Prefix=key).get("Uploads", []) == []


def test_another_users_upload_answers_404(uppy, other_user):
    key, upload_id = _multipart(uppy)
    stranger = APIClient()
    stranger.force_authenticate(other_user)
    assert stranger.get(f"{BASE}/multipart/{upload_id}/1", {"key": key}).status_code == 404
    assert stranger.get(f"{BASE}/multipart/{upload_id}", {"key": key}).status_code == 404
    assert stranger.delete(f"{BASE}/multipart/{upload_id}?key={key}").status_code == 404
    assert Upload.objects.get(key=key).status == "pending"


@pytest.fixture
def signed_in(live_server):
    """A real session cookie from the real login form."""
    make_user("uma", "pw-uma-123")
    session = requests.Session()
    page = session.get(f"{live_server.url}/accounts/login/", timeout=10)
    token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    session.post(
        f"{live_server.url}/accounts/login/",
        timeout=10,
        headers={"Referer": f"{live_server.url}/accounts/login/"},
        data={"login": "uma", "password": "pw-uma-123", "csrfmiddlewaretoken": token},
    )
    assert "sessionid" in session.cookies
    return session


@pytest.mark.parametrize(
    "headers, allowed",
    [
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),
        ({"Origin": "https://evil.example"}, False),
        ({}, False),  # no word from a browser at all: the cookie is not honoured
    ],
)
def test_the_session_cookie_counts_only_for_requests_from_this_site(live_server, signed_in, headers, allowed):
    create = signed_in.post(
        f"{live_server.url}{BASE}/multipart",
        json={"filename": "a.zip", "type": "application/zip"},
        headers=headers,
        timeout=10,
    )
    params = signed_in.get(
        f"{live_server.url}{BASE}/params",
        params={"filename": "a.jpg", "type": "image/jpeg"},
        headers=headers,
        timeout=10,
    )
    assert (create.status_code, params.status_code) == ((200, 200) if allowed else (403, 403))
    assert Upload.objects.count() == (2 if allowed else 0)


def test_a_matching_origin_stands_in_for_fetch_metadata(live_server, signed_in):
    create = signed_in.post(
        f"{live_server.url}{BASE}/multipart",
        json={"filename": "a.zip", "type": "application/zip"},
        headers={"Origin": live_server.url},
        timeout=10,
    )
    assert create.status_code == 200


def test_the_api_s_own_part_call_refuses_an_upload_of_undeclared_size(uppy):
    key, _upload_id = _multipart(uppy)
    upload = Upload.objects.get(key=key)
    answer = uppy.post(
        f"/api/v1/uploads/{upload.pk}/parts/",
        {"parts": [{"part_number": 1, "checksum_sha256": "A" * 43 + "="}]},
        format="json",
    )
    assert (answer.status_code, answer.json()["code"]) == (409, "wrong_state")
