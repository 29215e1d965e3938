import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from uploader.models import Upload

from .factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    return client


def _upload(owner, name, status="available"):
    return Upload.objects.create(
        owner=owner, bucket="b", key=f"uploads/{owner.pk}/{name}", original_filename=name,
        content_type="image/jpeg", size=10, status=status, expires_at=timezone.now() + dt.timedelta(hours=1),
    )


def test_staff_list_filter_and_search_uploads(staff_client):
    owner = make_user()
    _upload(owner, "<b>bold</b>.jpg")
    _upload(owner, "quiet.jpg", status="rejected")
    page = staff_client.get("/admin/uploader/upload/")
    assert page.status_code == 200
    assert b"&lt;b&gt;bold&lt;/b&gt;.jpg" in page.content and b"<b>bold</b>.jpg" not in page.content
    filtered = staff_client.get("/admin/uploader/upload/?status__exact=rejected")
    assert b"quiet.jpg" in filtered.content and b"bold" not in filtered.content
    searched = staff_client.get("/admin/uploader/upload/?q=quiet")
    assert b"quiet.jpg" in searched.content and b"bold" not in searched.content


def test_non_staff_cannot_open_the_admin(client):
    client.force_login(make_user())
    assert client.get("/admin/uploader/upload/").status_code == 302
