"""The quota holds bytes from presign until the upload ends: expiry, rejection and deletion each
give them back (abort is tested with the API)."""

import datetime as dt

import pytest
from django.utils import timezone

from uploader import selectors, services

from .factories import jpeg_bytes
from .helpers import put_object, start_upload

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
