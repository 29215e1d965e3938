"""A folder's tree kept: the path a file was chosen from is stored, returned, searched and used for
the download's name, and never decides the object key."""

from urllib.parse import quote

import pytest
import requests

from uploader.models import Upload

from .factories import jpeg_bytes, make_user
from .helpers import api_start, put_object

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "given, kept",
    [
        ("holiday/day1", "holiday/day1"),
        ("holiday\\day1", "holiday/day1"),  # a Windows client's separators
        ("./holiday//day1/", "holiday/day1"),
        ("여름/첫날", "여름/첫날"),
        ("", ""),
    ],
)
def test_the_folder_is_kept_cleaned_and_never_in_the_key(api, user, given, kept):
    response = api_start(api, relative_path=given)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["relative_path"] == kept
    assert data["key"].startswith(f"uploads/{user.pk}/{data['id']}/") and data["key"].endswith("/cat.jpg")
    assert Upload.objects.get(pk=data["id"]).relative_path == kept


@pytest.mark.parametrize(
    "path",
    ["../../etc", "holiday/../../x", "/etc/passwd", "C:/Windows", "a\u202eb", "x" * 300, "/".join(["d"] * 40)],
)
def test_a_path_that_climbs_or_is_absolute_or_unreasonable_is_refused(api, path):
    response = api_start(api, relative_path=path)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid_path"
    assert not Upload.objects.exists()


def test_the_list_filters_by_folder_and_searches_names_and_folders(api):
    for path, name in [
        ("holiday/day1", "a.jpg"),
        ("holiday/day12", "b.jpg"),
        ("holiday/day1/best", "c.jpg"),
        ("", "day1.jpg"),
    ]:
        assert api_start(api, relative_path=path, filename=name).status_code == 201

    def names(query):
        return sorted(u["original_filename"] for u in api.get(f"/api/v1/uploads/?{query}").json()["results"])

    assert names("path_prefix=holiday/day1") == ["a.jpg", "c.jpg"]  # not day12: a folder, not a prefix of text
    assert names("path_prefix=holiday/") == ["a.jpg", "b.jpg", "c.jpg"]
    assert names("search=DAY1") == ["a.jpg", "b.jpg", "c.jpg", "day1.jpg"]  # name or folder, any case
    assert names("search=best") == ["c.jpg"]


def test_another_users_folder_is_not_searched(api, other_user):
    from rest_framework.test import APIClient

    theirs = APIClient()
    theirs.force_authenticate(other_user)
    assert api_start(theirs, relative_path="secret/plans").status_code == 201
    assert api.get("/api/v1/uploads/?search=secret").json()["results"] == []


@pytest.mark.django_db(transaction=True)
def test_a_download_is_named_with_its_folders(api, drain):
    body = jpeg_bytes()
    started = api_start(api, filename="IMG_0001.jpg", size=len(body), relative_path="여름/day1").json()
    assert put_object(started["upload"], body).status_code == 200
    drain(lambda: Upload.objects.get(pk=started["id"]).status == "available")
    download = requests.get(api.get(f"/api/v1/uploads/{started['id']}/").json()["download_url"], timeout=10)
    assert download.content == body
    assert download.headers["Content-Disposition"] == f"inline; filename*=utf-8''{quote('여름_day1_IMG_0001.jpg')}"


def test_the_admin_finds_an_upload_by_its_folder(client, admin_user):
    owner = make_user("dana", "pw-dana-12345")
    from tests.helpers import start_upload

    upload, _ = start_upload(owner, jpeg_bytes())
    Upload.objects.filter(pk=upload.pk).update(relative_path="holiday/day2")
    client.force_login(admin_user)
    page = client.get("/admin/uploader/upload/?q=day2")
    assert page.status_code == 200 and str(upload.pk) in page.content.decode()
