import uuid
from urllib.parse import quote

import pytest
import requests
from rest_framework.test import APIClient

from uploader.models import Upload

from .factories import jpeg_bytes
from .helpers import api_start, put_object

pytestmark = pytest.mark.django_db


def test_start_creates_a_pending_record_and_a_presigned_put(api, user, aws_resources):
    response = api_start(api, filename="My Cat.jpg")
    assert response.status_code == 201, response.json()
    data = response.json()
    upload = Upload.objects.get(pk=data["id"])
    assert upload.owner == user and upload.status == "pending" and upload.size == 1234
    assert data["key"] == f"uploads/{user.pk}/{upload.id}/My_Cat.jpg"
    assert data["original_filename"] == "My Cat.jpg"
    assert data["upload"]["method"] == "PUT"
    assert data["upload"]["headers"] == {"Content-Type": "image/jpeg", "If-None-Match": "*"}
    assert f"/{data['key'].replace(' ', '%20')}?" in data["upload"]["url"]
    assert data["url_expires_at"] and data["expires_at"]


def test_disallowed_type_is_415_before_anything_is_signed(api, settings):
    settings.UPLOADER_ALLOWED_TYPES = ["image/jpeg"]
    response = api_start(api, content_type="text/html", filename="x.html")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_type"
    assert "text/html" in response.json()["detail"]
    assert not Upload.objects.exists()


def test_too_large_is_413_before_anything_is_signed(api, settings):
    settings.UPLOADER_MAX_SIZE = 1000
    response = api_start(api, size=1001)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Upload.objects.exists()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"size": 0}, None),
        ({"size": -5}, None),
        ({"size": "lots"}, "size"),
        ({"filename": ""}, "filename"),
        ({"checksum_sha256": "nope"}, "checksum_sha256"),
    ],
)
def test_bad_input_is_400_with_a_clear_message(api, overrides, field):
    response = api_start(api, **overrides)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] and body["code"]
    if field:
        assert body["detail"].startswith(f"{field}:")
    assert not Upload.objects.exists()


def test_no_credentials_is_401():
    response = APIClient().get("/api/v1/uploads/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_session_calls_need_csrf(user, aws_resources):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="alice", password="pw-alice-123")
    response = client.post(
        "/api/v1/uploads/", {"filename": "a.jpg", "content_type": "image/jpeg", "size": 5}, format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_another_users_upload_is_404_everywhere(api, other_user, aws_resources):
    theirs = APIClient()
    theirs.force_authenticate(other_user)
    upload_id = api_start(theirs).json()["id"]
    for method, path in [
        ("get", f"/api/v1/uploads/{upload_id}/"),
        ("delete", f"/api/v1/uploads/{upload_id}/"),
        ("post", f"/api/v1/uploads/{upload_id}/complete/"),
        ("post", f"/api/v1/uploads/{upload_id}/abort/"),
        ("get", f"/api/v1/uploads/{upload_id}/download/"),
    ]:
        response = getattr(api, method)(path)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert api.get("/api/v1/uploads/").json()["results"] == []
    assert Upload.objects.get(pk=upload_id).status == "pending"


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/uploads/not-an-id/"),
        ("post", "/api/v1/uploads/not-an-id/complete/"),
        ("delete", "/api/v1/uploads/12345/"),
        ("put", "/api/v1/nothing/here/"),
        ("post", "/api/v1/auth/nothing/"),
        ("get", "/api/v1/companion/s3/multipart/abc/not-a-number?key=k"),
    ],
)
def test_a_path_no_route_takes_is_the_apis_json_404_even_without_credentials(client, method, path):
    """A malformed id or a mistyped route: the API's own 404 in the caller's language, as a client
    parsing JSON expects, not the site's HTML page."""
    response = getattr(client, method)(path, HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 404
    assert response.json() == {"detail": "찾을 수 없습니다.", "code": "not_found"}


def test_a_route_asked_for_without_its_slash_is_still_redirected_to_it(client):
    assert client.get("/api/v1/uploads").headers["Location"] == "/api/v1/uploads/"


def test_unknown_id_is_404(api):
    assert api.get(f"/api/v1/uploads/{uuid.uuid4()}/").status_code == 404


def _ids(api, query=""):
    response = api.get(f"/api/v1/uploads/{query}")
    assert response.status_code == 200, response.json()
    return [u["id"] for u in response.json()["results"]]


def test_list_is_the_callers_own_filterable_by_status_and_type(api, aws_resources):
    cat = api_start(api).json()["id"]
    doc = api_start(api, filename="doc.pdf", content_type="application/pdf").json()["id"]
    aborted = api_start(api, filename="b.png", content_type="image/png").json()["id"]
    api.post(f"/api/v1/uploads/{aborted}/abort/")
    assert _ids(api) == [aborted, doc, cat]  # newest first
    assert _ids(api, "?status=expired") == [aborted]
    assert _ids(api, "?type=image/*") == [aborted, cat]
    assert _ids(api, "?type=application/pdf") == [doc]
    assert _ids(api, "?ordering=created_at") == [cat, doc, aborted]
    assert api.get("/api/v1/uploads/?status=nonsense").status_code == 400


def test_abort_expires_a_pending_upload_and_then_complete_is_409(api, aws_resources):
    upload_id = api_start(api).json()["id"]
    response = api.post(f"/api/v1/uploads/{upload_id}/abort/")
    assert response.status_code == 200 and response.json()["status"] == "expired"
    assert api.post(f"/api/v1/uploads/{upload_id}/abort/").status_code == 200  # repeatable
    response = api.post(f"/api/v1/uploads/{upload_id}/complete/")
    assert response.status_code == 409
    assert response.json()["code"] == "wrong_state"


def test_complete_verifies_and_is_safe_to_repeat(api, aws_resources, django_capture_on_commit_callbacks):
    body = jpeg_bytes()
    data = api_start(api, size=len(body)).json()
    assert put_object(data["upload"], body).status_code == 200
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(f"/api/v1/uploads/{data['id']}/complete/")
        assert response.status_code == 202
    detail = api.get(f"/api/v1/uploads/{data['id']}/").json()
    assert detail["status"] == "available"
    assert detail["version"] == 3  # pending -> processing -> available, once
    assert detail["stored_size"] == len(body) and detail["etag"]
    assert detail["download_url"].startswith("http")


def test_complete_before_the_bytes_arrive_leaves_it_pending(api, aws_resources, django_capture_on_commit_callbacks):
    upload_id = api_start(api).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/uploads/{upload_id}/complete/").status_code == 202
    assert Upload.objects.get(pk=upload_id).status == "pending"


def test_schema_and_docs_are_served(api):
    schema = api.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/uploads/{upload_id}/complete/" in schema.content
    assert api.get("/api/v1/docs/").status_code == 200


@pytest.mark.parametrize("value, status", [("0459-07-29T00:14:46+23:17", 200), ("0001-01-01T00:00:00+23:59", 400)])
def test_a_date_filter_with_an_extreme_offset_is_answered_not_a_500(api, value, status):
    # Found by the schema fuzz run on PostgreSQL, which refuses offsets beyond ±15:59.
    response = api.get("/api/v1/uploads/", {"created_after": value})
    assert response.status_code == status, response.content


def test_list_filters_by_date_and_pages_with_a_cursor(api, user, aws_resources):
    import datetime as dt

    from django.utils import timezone

    ids = [api_start(api, filename=f"{i}.jpg").json()["id"] for i in range(5)]
    old = timezone.now() - dt.timedelta(days=3)
    Upload.objects.filter(pk=ids[0]).update(created_at=old)
    cutoff = (old + dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert _ids(api, f"?created_before={cutoff}") == [ids[0]]
    assert ids[0] not in _ids(api, f"?created_after={cutoff}")
    first = api.get("/api/v1/uploads/?page_size=2").json()
    assert [u["id"] for u in first["results"]] == ids[:0:-1][:2]
    second = api.get(first["next"]).json()
    assert [u["id"] for u in second["results"]] == ids[:0:-1][2:4]


def test_presign_is_throttled_per_user(api, settings, aws_resources):
    from django.core.cache import cache

    cache.clear()
    settings.UPLOADER_PRESIGN_RATE = "2/min"
    assert api_start(api).status_code == 201
    assert api_start(api).status_code == 201
    response = api_start(api)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert api.get("/api/v1/uploads/").status_code == 200  # reading is not throttled
    cache.clear()


def test_delete_removes_the_object_the_record_and_the_mirror(api, aws_resources, django_capture_on_commit_callbacks):
    from uploader import aws
    from uploader.aws import mirror

    body = jpeg_bytes()
    data = api_start(api, size=len(body)).json()
    put_object(data["upload"], body)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/uploads/{data['id']}/").status_code == 204
    assert api.get(f"/api/v1/uploads/{data['id']}/").status_code == 404
    assert aws.s3().list_objects_v2(Bucket=aws_resources, Prefix=data["key"]).get("KeyCount") == 0
    assert mirror.get(data["id"])["status"] == {"S": "deleted"}


def test_download_redirects_to_a_short_lived_url_that_saves_under_the_display_name(
    api, aws_resources, django_capture_on_commit_callbacks
):
    body = jpeg_bytes()
    data = api_start(api, filename="여름 사진.jpg", size=len(body)).json()
    pending = api.get(f"/api/v1/uploads/{data['id']}/download/")
    assert (pending.status_code, pending.json()["code"]) == (409, "wrong_state")
    put_object(data["upload"], body)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/uploads/{data['id']}/complete/")
    response = api.get(f"/api/v1/uploads/{data['id']}/download/")
    assert response.status_code == 302 and response["Cache-Control"] == "no-store"
    fetched = requests.get(response["Location"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == body
    # An image the list shows inline is still saved as a file here, under its name in any script.
    assert fetched.headers["Content-Disposition"] == ("attachment; filename*=utf-8''" + quote("여름 사진.jpg"))


# --- the original serverless design's call ---


def test_legacy_presign_answers_like_the_original_lambda(api, user, aws_resources, django_capture_on_commit_callbacks):
    response = api.get("/api/v1/presign/?content_type=image/jpeg")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"uploadURL", "Key"}
    assert body["Key"].startswith(f"uploads/{user.pk}/") and body["Key"].endswith(".jpg")
    photo = jpeg_bytes()
    import requests

    assert requests.put(body["uploadURL"], data=photo, headers={"Content-Type": "image/jpeg"}).status_code == 200
    assert requests.put(body["uploadURL"], data=photo, headers={"Content-Type": "image/png"}).status_code == 403
    upload = Upload.objects.get(key=body["Key"])
    assert upload.size is None
    from uploader import services

    with django_capture_on_commit_callbacks(execute=True):
        services.upload_complete(upload=upload)  # what the S3 event would do
    upload.refresh_from_db()
    assert (upload.status, upload.stored_size) == ("available", len(photo))


def test_legacy_presign_goes_through_the_same_rules(api, settings, aws_resources):
    settings.UPLOADER_ALLOWED_TYPES = ["image/jpeg"]
    settings.UPLOADER_MAX_SIZE = 100
    assert api.get("/api/v1/presign/?content_type=text/html").status_code == 415
    assert api.get("/api/v1/presign/?content_type=image/jpeg&size=101").status_code == 413
    sized = api.get("/api/v1/presign/?content_type=image/jpeg&size=50").json()
    import requests

    assert requests.put(sized["uploadURL"], data=b"x" * 51, headers={"Content-Type": "image/jpeg"}).status_code == 403
    assert APIClient().get("/api/v1/presign/").status_code == 401


def test_an_undeclared_size_over_the_limit_is_rejected_by_the_worker(settings):
    from uploader.domain.validation import StoredObject, verify_stored

    settings.UPLOADER_MAX_SIZE = 10
    stored = StoredObject(size=11, content_type="text/plain", head=b"hello world")
    assert verify_stored(declared_type="text/plain", declared_size=None, declared_checksum="", stored=stored)


def test_legacy_presign_always_signs_one_put(api, settings, aws_resources):
    settings.UPLOADER_MULTIPART_THRESHOLD = 10
    response = api.get("/api/v1/presign/?content_type=image/jpeg&size=25119180")  # found by the fuzz run
    assert response.status_code == 200 and "uploadURL" in response.json()
    too_big = api.get(f"/api/v1/presign/?content_type=image/jpeg&size={5 * 1024**3 + 1}")
    assert too_big.status_code == 413 and "multipart" in too_big.json()["detail"]


def test_a_form_upload_with_a_presigned_post(api, aws_resources, django_capture_on_commit_callbacks):
    import requests

    body = jpeg_bytes()
    data = api_start(api, size=len(body), method="POST").json()
    form = data["upload"]
    assert form["method"] == "POST" and form["fields"]["key"] == data["key"]
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("cat.jpg", body)}, timeout=30)
    assert sent.status_code in (200, 204)
    with django_capture_on_commit_callbacks(execute=True):  # the owed check goes out once committed
        assert api.post(f"/api/v1/uploads/{data['id']}/complete/").status_code == 202
    assert api.get(f"/api/v1/uploads/{data['id']}/").json()["status"] == "available"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("filename", ["사진.jpg", "写真.jpg", "😀 party.jpg", "صورة.jpg"])
def test_a_name_in_any_script_is_kept_and_downloads_under_it(api, drain, filename):
    """The key keeps the extension, the record keeps the name, and the file S3 hands back is saved
    under that name (RFC 6266 `filename*=utf-8''…`), not as `jpg` or as mojibake."""
    body = jpeg_bytes()
    started = api.post(
        "/api/v1/uploads/", {"filename": filename, "content_type": "image/jpeg", "size": len(body)}, format="json"
    ).json()
    assert started["original_filename"] == filename
    assert started["key"].endswith("/file.jpg" if filename[0] not in "😀" else "/party.jpg")
    assert put_object(started["upload"], body).status_code == 200
    drain(lambda: Upload.objects.get(pk=started["id"]).status == "available")
    download = requests.get(api.get(f"/api/v1/uploads/{started['id']}/").json()["download_url"], timeout=10)
    assert download.content == body
    assert download.headers["Content-Disposition"] == f"inline; filename*=utf-8''{quote(filename)}"


def test_a_reviewers_rejection_is_what_the_owner_sees_and_withdraws_the_download(
    api, user, aws_resources, django_capture_on_commit_callbacks, django_user_model
):
    """One status for the owner: an available upload a reviewer rejected reads `rejected` with the
    reviewer's reason, is found by the rejected filter and no longer by the available one, and
    its download is refused (the reviewer still opens it in the admin)."""
    from uploader.services import selectors
    from uploader.services.review import upload_review

    body = jpeg_bytes()
    kept, refused = (api_start(api, filename=f"{n}.jpg", size=len(body)).json() for n in ("kept", "refused"))
    for data in (kept, refused):
        put_object(data["upload"], body)
        with django_capture_on_commit_callbacks(execute=True):
            api.post(f"/api/v1/uploads/{data['id']}/complete/")
    reviewer = django_user_model.objects.create_user("rita", password="pw-rita-12345", is_staff=True)
    upload_review(upload=Upload.objects.get(pk=refused["id"]), reviewer=reviewer, approve=False, reason="Blurred.")

    shown = api.get(f"/api/v1/uploads/{refused['id']}/").json()
    assert (shown["status"], shown["review_status"]) == ("available", "rejected")  # the lifecycle is kept
    assert (shown["outcome"], shown["outcome_reason"]) == ("rejected", "Blurred.")
    assert shown["download_url"] is None and shown["thumbnail_url"] is None
    assert api.get(f"/api/v1/uploads/{kept['id']}/").json()["outcome"] == "available"
    assert _ids(api, "?outcome=rejected") == [refused["id"]]
    assert _ids(api, "?outcome=available") == [kept["id"]]
    download = api.get(f"/api/v1/uploads/{refused['id']}/download/")
    assert (download.status_code, download.json()["code"]) == (409, "wrong_state")
    assert "reviewer" in download.json()["detail"]
    assert api.get(f"/api/v1/uploads/{kept['id']}/download/").status_code == 302
    assert selectors.upload_download_url(upload=Upload.objects.get(pk=refused["id"]), reviewer=True)
