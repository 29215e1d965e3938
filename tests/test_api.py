import uuid

import pytest
from rest_framework.test import APIClient

from uploader.models import Upload

from .conftest import put_object
from .factories import jpeg_bytes

pytestmark = pytest.mark.django_db


def _start(api, **overrides):
    body = {"filename": "cat.jpg", "content_type": "image/jpeg", "size": 1234, **overrides}
    return api.post("/api/v1/uploads/", body, format="json")


def test_start_creates_a_pending_record_and_a_presigned_put(api, user, aws_resources):
    response = _start(api, filename="../../My Cat.jpg")
    assert response.status_code == 201, response.json()
    data = response.json()
    upload = Upload.objects.get(pk=data["id"])
    assert upload.owner == user and upload.status == "pending" and upload.size == 1234
    assert data["key"] == f"uploads/{user.pk}/{upload.id}/My_Cat.jpg"
    assert data["original_filename"] == "My Cat.jpg"
    assert data["upload"]["method"] == "PUT"
    assert data["upload"]["headers"] == {"Content-Type": "image/jpeg"}
    assert f"/{data['key'].replace(' ', '%20')}?" in data["upload"]["url"]
    assert data["url_expires_at"] and data["expires_at"]


def test_disallowed_type_is_415_before_anything_is_signed(api, settings):
    settings.UPLOADER_ALLOWED_TYPES = ["image/jpeg"]
    response = _start(api, content_type="text/html", filename="x.html")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_type"
    assert "text/html" in response.json()["detail"]
    assert not Upload.objects.exists()


def test_too_large_is_413_before_anything_is_signed(api, settings):
    settings.UPLOADER_MAX_SIZE = 1000
    response = _start(api, size=1001)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Upload.objects.exists()


@pytest.mark.parametrize(
    "overrides, field",
    [({"size": 0}, None), ({"size": -5}, None), ({"size": "lots"}, "size"), ({"filename": ""}, "filename"),
     ({"checksum_sha256": "nope"}, "checksum_sha256")],
)
def test_bad_input_is_400_with_a_clear_message(api, overrides, field):
    response = _start(api, **overrides)
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
    response = client.post("/api/v1/uploads/", {"filename": "a.jpg", "content_type": "image/jpeg", "size": 5},
                           format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_another_users_upload_is_404_everywhere(api, other_user, aws_resources):
    theirs = APIClient()
    theirs.force_authenticate(other_user)
    upload_id = _start(theirs).json()["id"]
    for method, path in [
        ("get", f"/api/v1/uploads/{upload_id}/"),
        ("delete", f"/api/v1/uploads/{upload_id}/"),
        ("post", f"/api/v1/uploads/{upload_id}/complete/"),
        ("post", f"/api/v1/uploads/{upload_id}/abort/"),
    ]:
        response = getattr(api, method)(path)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert api.get("/api/v1/uploads/").json()["results"] == []
    assert Upload.objects.get(pk=upload_id).status == "pending"


def test_unknown_id_is_404(api):
    assert api.get(f"/api/v1/uploads/{uuid.uuid4()}/").status_code == 404


def _ids(api, query=""):
    response = api.get(f"/api/v1/uploads/{query}")
    assert response.status_code == 200, response.json()
    return [u["id"] for u in response.json()["results"]]


def test_list_is_the_callers_own_filterable_by_status_and_type(api, aws_resources):
    cat = _start(api).json()["id"]
    doc = _start(api, filename="doc.pdf", content_type="application/pdf").json()["id"]
    aborted = _start(api, filename="b.png", content_type="image/png").json()["id"]
    api.post(f"/api/v1/uploads/{aborted}/abort/")
    assert _ids(api) == [aborted, doc, cat]  # newest first
    assert _ids(api, "?status=expired") == [aborted]
    assert _ids(api, "?type=image/*") == [aborted, cat]
    assert _ids(api, "?type=application/pdf") == [doc]
    assert _ids(api, "?ordering=created_at") == [cat, doc, aborted]
    assert api.get("/api/v1/uploads/?status=nonsense").status_code == 400


def test_abort_expires_a_pending_upload_and_then_complete_is_409(api, aws_resources):
    upload_id = _start(api).json()["id"]
    response = api.post(f"/api/v1/uploads/{upload_id}/abort/")
    assert response.status_code == 200 and response.json()["status"] == "expired"
    assert api.post(f"/api/v1/uploads/{upload_id}/abort/").status_code == 200  # repeatable
    response = api.post(f"/api/v1/uploads/{upload_id}/complete/")
    assert response.status_code == 409
    assert response.json()["code"] == "wrong_state"


def test_complete_verifies_and_is_safe_to_repeat(api, aws_resources, django_capture_on_commit_callbacks):
    body = jpeg_bytes()
    data = _start(api, size=len(body)).json()
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
    upload_id = _start(api).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/uploads/{upload_id}/complete/").status_code == 202
    assert Upload.objects.get(pk=upload_id).status == "pending"


def test_schema_and_docs_are_served(api):
    schema = api.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/uploads/{upload_id}/complete/" in schema.content
    assert api.get("/api/v1/docs/").status_code == 200
