"""Many uploads in one call: each item answered on its own, the quota counted item by item under
one lock, the rate counted per item as well as per call."""

import pytest
from django.core.cache import cache

from uploader.models import Upload

from .factories import jpeg_bytes
from .helpers import put_object

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/uploads/batch/"


@pytest.fixture(autouse=True)
def fresh_rates():
    """Each test counts from zero (the rates live in the cache, which outlives a test's database)."""
    cache.clear()


def _item(name="cat.jpg", size=1234, **overrides):
    return {"filename": name, "content_type": "image/jpeg", "size": size, **overrides}


def test_each_item_is_started_or_refused_on_its_own(api, user, settings):
    settings.UPLOADER_ALLOWED_TYPES = ["image/jpeg", "application/pdf"]
    settings.UPLOADER_MAX_SIZE = 10_000
    items = [
        _item("a.jpg", relative_path="holiday/day1"),
        _item("b.exe", content_type="application/x-msdownload"),
        _item("c.jpg", size=10_001),
        _item("d.jpg", relative_path="../up"),
        _item("e.pdf.jpg", content_type="application/pdf"),
        _item("f.jpg", relative_path="holiday/day2"),
    ]
    response = api.post(BATCH, {"uploads": items}, format="json")
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 415, 413, 400, 400, 201]
    assert [r.get("error", {}).get("code") for r in results] == [
        None,
        "unsupported_type",
        "too_large",
        "invalid_path",
        "invalid_filename",
        None,
    ]
    started = [r["upload"] for r in results if r["status"] == 201]
    assert [(u["original_filename"], u["relative_path"]) for u in started] == [
        ("a.jpg", "holiday/day1"),
        ("f.jpg", "holiday/day2"),
    ]
    assert all(u["upload"]["method"] == "PUT" and u["key"].startswith(f"uploads/{user.pk}/") for u in started)
    assert sorted(Upload.objects.values_list("original_filename", flat=True)) == ["a.jpg", "f.jpg"]


def test_the_quota_stops_the_batch_exactly_where_it_runs_out(api, settings):
    settings.UPLOADER_USER_QUOTA = 3000
    items = [_item(f"{n}.jpg", size=1000) for n in range(5)]
    results = api.post(BATCH, {"uploads": items}, format="json").json()["results"]
    assert [r["status"] for r in results] == [201, 201, 201, 413, 413]
    assert results[3]["error"]["code"] == "quota_exceeded"
    assert Upload.objects.count() == 3
    # A smaller file after a refused one still fits if there is room: each item is counted in turn.
    settings.UPLOADER_USER_QUOTA = 3500
    results = api.post(BATCH, {"uploads": [_item("big.jpg", size=1000), _item("small.jpg", size=500)]}, format="json")
    assert [r["status"] for r in results.json()["results"]] == [413, 201]


@pytest.mark.parametrize(
    "body, code",
    [
        ({"uploads": []}, "empty"),
        ({"uploads": [_item(f"{n}.jpg") for n in range(101)]}, "max_length"),
        ({"uploads": [_item(size="lots")]}, "invalid"),
        ({}, "required"),
    ],
)
def test_a_malformed_or_oversized_batch_is_refused_whole(api, body, code):
    response = api.post(BATCH, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Upload.objects.exists()


def test_items_count_against_the_items_rate_and_the_call_against_the_presign_rate(api, settings):
    settings.UPLOADER_BATCH_ITEMS_RATE = "150/min"
    settings.UPLOADER_PRESIGN_RATE = "1000/min"
    hundred = {"uploads": [_item(f"{n}.jpg", size=10) for n in range(100)]}
    assert api.post(BATCH, hundred, format="json").status_code == 200
    refused = api.post(BATCH, hundred, format="json")  # 200 items in a minute: over 150
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert Upload.objects.count() == 100  # a refused batch starts nothing
    fifty = {"uploads": [_item(f"x{n}.jpg", size=10) for n in range(50)]}
    assert api.post(BATCH, fifty, format="json").status_code == 200  # the refused batch was not counted


def test_the_call_counts_against_the_presign_rate(api, settings):
    settings.UPLOADER_PRESIGN_RATE = "2/min"
    one = {"uploads": [_item()]}
    assert [api.post(BATCH, one, format="json").status_code for _ in range(3)] == [200, 200, 429]


def test_batch_complete_answers_each_item_and_hides_other_users_uploads(api, other_user, settings):
    from rest_framework.test import APIClient

    theirs = APIClient()
    theirs.force_authenticate(other_user)
    their_upload = theirs.post(BATCH, {"uploads": [_item()]}, format="json").json()["results"][0]["upload"]
    mine = api.post(BATCH, {"uploads": [_item()]}, format="json").json()["results"][0]["upload"]
    Upload.objects.filter(pk=mine["id"]).update(status="expired")
    response = api.post(
        f"{BATCH}complete/",
        {"uploads": [{"id": their_upload["id"]}, {"id": mine["id"]}, {"id": "00000000-0000-0000-0000-000000000000"}]},
        format="json",
    )
    assert response.status_code == 200
    assert [(r["status"], r["error"]["code"]) for r in response.json()["results"]] == [
        (404, "not_found"),
        (409, "wrong_state"),
        (404, "not_found"),
    ]
    assert Upload.objects.get(pk=their_upload["id"]).status == "pending"


@pytest.mark.django_db(transaction=True)
def test_a_batch_started_sent_and_completed_becomes_available(api, user, drain):
    photos = [jpeg_bytes(20 + n, 20) for n in range(5)]
    items = [_item(f"IMG_{n}.jpg", size=len(body), relative_path=f"roll/{n % 2}") for n, body in enumerate(photos)]
    results = api.post(BATCH, {"uploads": items}, format="json").json()["results"]
    assert all(r["status"] == 201 for r in results)
    for result, body in zip(results, photos, strict=True):
        assert put_object(result["upload"]["upload"], body).status_code == 200
    completed = api.post(
        f"{BATCH}complete/", {"uploads": [{"id": r["upload"]["id"]} for r in results]}, format="json"
    ).json()["results"]
    assert [r["status"] for r in completed] == [202] * 5
    drain(lambda: Upload.objects.filter(owner=user, status="available").count() == 5)
    assert sorted(Upload.objects.values_list("relative_path", flat=True)) == ["roll/0"] * 3 + ["roll/1"] * 2


@pytest.mark.django_db(transaction=True)
def test_a_file_already_available_is_answered_not_started_again_when_asked(api, user, drain):
    import base64
    import hashlib

    from uploader.domain.validation import is_valid_sha256_b64  # noqa: F401  (the checksum below is a real one)

    body = jpeg_bytes(30, 30)
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
    item = _item("IMG_1.jpg", size=len(body), checksum_sha256=checksum, relative_path="roll", skip_if_available=True)
    first = api.post(BATCH, {"uploads": [item]}, format="json").json()["results"][0]
    assert first["status"] == 201  # nothing available yet: started
    assert put_object(first["upload"]["upload"], body).status_code == 200
    drain(lambda: Upload.objects.get(pk=first["upload"]["id"]).status == "available")

    again = api.post(BATCH, {"uploads": [item, {**item, "relative_path": "other"}]}, format="json").json()["results"]
    assert again[0]["status"] == 200 and again[0]["upload"]["id"] == first["upload"]["id"]
    assert "upload" not in again[0]["upload"]  # no URL: nothing to send
    assert again[1]["status"] == 201  # another folder: another file
    changed = {**item, "checksum_sha256": base64.b64encode(b"x" * 32).decode()}
    assert api.post(BATCH, {"uploads": [changed]}, format="json").json()["results"][0]["status"] == 201
    unasked = {**item, "skip_if_available": False}
    assert api.post(BATCH, {"uploads": [unasked]}, format="json").json()["results"][0]["status"] == 201
