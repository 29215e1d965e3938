import datetime as dt

import pytest
from django.utils import timezone

from uploader.models import InvalidTransition, Upload

from .factories import make_user

S = Upload.Status


def _upload(**kwargs):
    owner = make_user()
    return Upload.objects.create(
        owner=owner,
        bucket="b",
        key="uploads/1/x/a.jpg",
        original_filename="a.jpg",
        content_type="image/jpeg",
        size=10,
        expires_at=timezone.now() + dt.timedelta(hours=1),
        **kwargs,
    )


@pytest.mark.django_db
def test_transitions_bump_the_version_and_stamp_uploaded_at():
    upload = _upload()
    upload.transition(S.PROCESSING)
    upload.transition(S.AVAILABLE)
    assert (upload.status, upload.version) == (S.AVAILABLE, 3)
    assert upload.uploaded_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "start, target",
    [
        (S.PENDING, S.AVAILABLE),
        (S.AVAILABLE, S.PENDING),
        (S.REJECTED, S.AVAILABLE),
        (S.DELETED, S.PENDING),
        (S.EXPIRED, S.PROCESSING),
        (S.AVAILABLE, S.REJECTED),
    ],
)
def test_forbidden_transitions_raise_and_change_nothing(start, target):
    upload = _upload(status=start)
    with pytest.raises(InvalidTransition):
        upload.transition(target)
    assert (upload.status, upload.version) == (start, 1)


def test_every_status_may_end_deleted():
    for status, targets in Upload.TRANSITIONS.items():
        if status != S.DELETED:
            assert S.DELETED in targets
