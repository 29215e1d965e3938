"""Row locks that hold on the production database. They run on PostgreSQL (CI), where
`select_for_update` takes a real row lock; on SQLite the database's one write lock would make them
pass whatever the code does, so there they are skipped, with the reason."""

import threading

import pytest
from django.db import close_old_connections, connection

from uploader import services
from uploader.domain import validation
from uploader.models import Upload, UploadEvent
from uploader.services import selectors

from .factories import make_user

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks are what is tested: on SQLite the whole database is locked (run with DATABASE_URL)",
    ),
]
MiB = 1024 * 1024


def _at_once(count, call):
    """Run `call()` in `count` threads released together; returns each result or exception."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # the caller looks at what each got
            results[i] = exc
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.parametrize("counted", [False, True], ids=["first-starts", "with-a-count"])
def test_concurrent_presigns_of_one_user_never_pass_the_quota(settings, aws_resources, counted):
    """Eight starts at once, room for three. An owner with a count (an earlier upload): each start
    is one statement (the count's conditional UPDATE with the new rows), whose row lock they queue
    on, each rechecking the count as it finds it; without one, the first start makes it."""
    settings.UPLOADER_USER_QUOTA = (3 + counted) * MiB
    owner = make_user("quinn", "pw-quinn-123")
    if counted:
        services.upload_start(owner=owner, filename="first.jpg", content_type="image/jpeg", size=MiB)

    def start():
        return services.upload_start(owner=owner, filename="a.jpg", content_type="image/jpeg", size=MiB).upload

    results = _at_once(8, start)
    granted = [r for r in results if isinstance(r, Upload)]
    refused = [r for r in results if isinstance(r, validation.PolicyError)]
    assert (len(granted), len(refused)) == (3, 5), (connection.vendor, results)
    assert {r.code for r in refused} == {"quota_exceeded"}
    held = selectors.upload_bytes_held(owner_id=owner.pk)
    assert held == (3 + counted) * MiB == selectors.upload_bytes_counted(owner_id=owner.pk)
    assert Upload.objects.filter(owner=owner).count() == 3 + counted
    assert UploadEvent.objects.filter(owner_id=owner.pk, action="created").count() == 3 + counted


def test_concurrent_first_starts_of_new_owners_all_pass_a_quota_they_fit(settings, aws_resources):
    """An owner's count is made by their first start; starts that race it must find the new row,
    not take its appearance between their UPDATE and their read for a quota they do not fit (make
    bench found one such 413 in a new owner's first eight starts)."""
    settings.UPLOADER_USER_QUOTA = 100 * MiB
    for n in range(6):  # the race is a matter of timing: several new owners
        owner = make_user(f"new{n}", "pw-new-12345")

        def start(owner=owner):
            return services.upload_start(owner=owner, filename="a.jpg", content_type="image/jpeg", size=MiB).upload

        results = _at_once(8, start)
        assert all(isinstance(r, Upload) for r in results), (n, results)
        assert selectors.upload_bytes_held(owner_id=owner.pk) == 8 * MiB
        assert selectors.upload_bytes_counted(owner_id=owner.pk) == 8 * MiB


def test_concurrent_reviews_of_one_upload_leave_one_decision(aws_resources):
    owner = make_user("quinn", "pw-quinn-123")
    reviewer = make_user("rita", "pw-rita-123", is_staff=True)
    upload = services.upload_start(owner=owner, filename="a.jpg", content_type="image/jpeg", size=10).upload
    Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.AVAILABLE)

    def review():
        return services.upload_review(upload=Upload.objects.get(pk=upload.pk), reviewer=reviewer, approve=True)

    results = _at_once(6, review)
    assert all(isinstance(r, Upload) for r in results), results
    # The first review under the lock decides; the others find it decided and change nothing.
    assert UploadEvent.objects.filter(upload_id=upload.pk, action="approved").count() == 1
    assert Upload.objects.get(pk=upload.pk).review_status == "approved"
