"""Hostile input: refused with a clear 4xx, nothing stored, nothing crashed; what is allowed is
escaped everywhere it is shown."""

import pytest
from django.contrib.auth import get_user_model

from uploader import services
from uploader.domain.validation import StoredObject, verify_stored
from uploader.models import Upload

from .factories import jpeg_bytes
from .helpers import api_start

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "filename, why",
    [
        ("../../etc/passwd.jpg", "path"),
        ("..\\\\..\\\\boot.jpg", "path"),
        ("..", "path"),
        ("shell.jpg.php", "extension .php"),
        ("page.html", "extension .html"),
        ("a\x00b.jpg", "Null characters are not allowed"),  # DRF refuses it first
        ("bell\x07.jpg", "control"),
        ("cat\u202egpj.exe", "text-direction"),
        ("x" * 996 + ".jpg", "longer than"),
        ("   ", "may not be blank"),
    ],
)
def test_hostile_filenames_are_refused_before_anything_is_stored(api, aws_resources, filename, why):
    response = api_start(api, filename=filename)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] in ("invalid_filename", "null_characters_not_allowed", "blank")
    assert why in response.json()["detail"]
    assert not Upload.objects.exists()


@pytest.mark.parametrize("filename", ["IMG_2041", "cat.JPG", "holiday photo (1).jpeg", "ünïcödé.jpg"])
def test_ordinary_filenames_are_accepted(api, aws_resources, filename):
    assert api_start(api, filename=filename).status_code == 201


MARKUP_NAME = '<img src=x onerror="alert(1)">.jpg'


def test_markup_in_a_name_is_escaped_on_the_page_in_the_admin_and_in_the_api(client, user, aws_resources):
    upload = services.upload_start(owner=user, filename=MARKUP_NAME, content_type="image/jpeg", size=10).upload
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    response = api.get(f"/api/v1/uploads/{upload.pk}/")
    assert response["Content-Type"] == "application/json"
    assert response.json()["original_filename"] == MARKUP_NAME  # data, for clients to escape
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    for page in (client.get("/admin/uploader/upload/"), client.get(f"/admin/uploader/upload/{upload.pk}/change/")):
        html = page.content.decode()
        assert MARKUP_NAME not in html
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.jpg" in html
    # The web page builds its rows with textContent (see uploader.js); the e2e tests drive it.


@pytest.mark.parametrize(
    "size, status, code", [(0, 400, "invalid_size"), (-1, 400, "invalid_size"), (10**13, 413, "too_large")]
)
def test_bad_sizes(api, aws_resources, size, status, code):
    response = api_start(api, size=size)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not Upload.objects.exists()


def test_quota_is_reserved_at_presign_and_released_on_abort(api, settings, aws_resources):
    settings.UPLOADER_USER_QUOTA = 3000
    first = api_start(api, size=2000).json()
    response = api_start(api, size=1001)
    assert response.status_code == 413 and response.json()["code"] == "quota_exceeded"
    assert "2000 of 3000" in response.json()["detail"]
    assert api_start(api, size=1000).status_code == 201  # exactly to the limit
    api.post(f"/api/v1/uploads/{first['id']}/abort/")
    assert api_start(api, size=2000).status_code == 201  # the aborted upload's bytes were released


def _verify(head, declared="image/jpeg"):
    stored = StoredObject(size=len(head), content_type=declared, head=head)
    return verify_stored(declared_type=declared, declared_size=len(head), declared_checksum="", stored=stored)


def test_a_jpeg_carrying_script_is_a_rejected_polyglot():
    polyglot = jpeg_bytes()[:-2] + b"<?php system($_GET['c']); ?>" + b"\xff\xd9"
    assert any("polyglot" in r for r in _verify(polyglot))
    assert any("polyglot" in r for r in _verify(jpeg_bytes() + b"<script>alert(1)</script>"))
    assert _verify(jpeg_bytes()) == []


def test_wrong_magic_bytes_are_rejected():
    # A JPEG signature with no readable image behind it, and a GIF declared as JPEG.
    assert _verify(b"\xff\xd8\xff" + b"\x00" * 50) == ["The image header cannot be read."]
    assert _verify(b"GIF89a" + b"\x00" * 50) == ["Content looks like image/gif, not image/jpeg."]


def test_svg_and_html_are_never_served_inline(api, user, settings, aws_resources):
    from uploader.api.serializers import UploadOutput

    settings.UPLOADER_ALLOWED_TYPES = ["image/svg+xml", "text/html"]
    for name, content_type in (("a.svg", "image/svg+xml"), ("b.html", "text/html")):
        upload = services.upload_start(owner=user, filename=name, content_type=content_type, size=10).upload
        Upload.objects.filter(pk=upload.pk).update(status="available")
        upload.refresh_from_db()
        assert "response-content-disposition=attachment" in UploadOutput(upload).data["download_url"]


def test_allauth_login_is_rate_limited(client, user):
    from django.core.cache import cache

    cache.clear()
    for _ in range(5):
        client.post("/accounts/login/", {"login": "alice", "password": "wrong"})
    response = client.post("/accounts/login/", {"login": "alice", "password": "pw-alice-123"})
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session  # even the right password waits
    cache.clear()
