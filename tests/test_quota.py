"""The quota holds bytes from presign until the upload ends: expiry, rejection and deletion each
give them back (abort is tested with the API)."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from uploader import services
from uploader.domain import validation
from uploader.models import OutboxMessage, QuotaUsage, Upload, UploadEvent
from uploader.services import selectors, usage

from .factories import jpeg_bytes
from .helpers import api_start, put_object, start_upload

pytestmark = pytest.mark.django_db


def _held(user):
    """What the owner's count says, held equal to what their uploads hold after every change."""
    held = selectors.upload_bytes_held(owner_id=user.pk)
    assert held == selectors.upload_bytes_counted(owner_id=user.pk)
    return held


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


def test_an_aborted_upload_gives_its_bytes_back_once_however_often_it_is_aborted(api, user, aws_resources):
    started = api_start(api, size=5000).json()
    assert _held(user) == 5000
    for _ in range(2):
        assert api.post(f"/api/v1/uploads/{started['id']}/abort/").status_code == 200
    assert _held(user) == 0
    assert services.upload_abort(upload=Upload.objects.get(pk=started["id"])).status == "expired"  # the service too
    trail = UploadEvent.objects.filter(upload_id=started["id"]).order_by("id")
    assert list(trail.values_list("action", flat=True)) == ["created", "expired"]


def test_a_single_put_over_the_quota_is_refused_before_anything_is_signed(api, user, settings, aws_resources):
    settings.UPLOADER_USER_QUOTA = 10_000
    assert api_start(api, size=8000).status_code == 201
    refused = api_start(api, size=3000)
    assert (refused.status_code, refused.json()["code"]) == (413, "quota_exceeded")
    assert "upload" not in refused.json() and Upload.objects.count() == 1


def test_with_no_quota_the_worker_judges_by_content_alone(user, settings, aws_resources):
    settings.UPLOADER_USER_QUOTA = 0
    body = jpeg_bytes()
    upload, put = start_upload(user, body)
    assert services.upload_verify(upload_id=upload.pk).status == "pending"  # nothing stored yet: nothing to judge
    assert put_object(put, body).status_code == 200
    assert services.upload_verify(upload_id=upload.pk).status == "available"
    assert services.upload_verify(upload_id=upload.pk).version == 3  # decided: a second check changes nothing


def test_a_start_checks_and_reserves_with_one_statement_and_no_sum(api, user, settings, aws_resources):
    """The check that counts is one conditional UPDATE of the owner's row: no lock on the owner,
    no sum over the owner's uploads, whose cost grew with them (README, Benchmarks)."""
    settings.UPLOADER_USER_QUOTA = 10_000
    assert api_start(api, size=10).status_code == 201  # the owner's first: the row is made
    with CaptureQueriesContext(connection) as captured:
        assert api_start(api, size=20).status_code == 201
    statements = [q["sql"] for q in captured.captured_queries]
    (counted,) = [s for s in statements if QuotaUsage._meta.db_table in s]
    assert counted.startswith("UPDATE") and "held + " in counted and "<=" in counted, counted
    # The owner's row is locked last, after the new rows: for that UPDATE and the COMMIT alone.
    inserted = [n for n, s in enumerate(statements) if Upload._meta.db_table in s and "INSERT" in s.upper()]
    assert inserted and statements.index(counted) > inserted[-1], statements
    assert not [s for s in statements if "SUM(" in s.upper() or "FOR UPDATE" in s.upper()], statements
    assert _held(user) == 30


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement on PostgreSQL (run with DATABASE_URL)")
def test_on_postgresql_a_start_of_an_owner_with_a_count_is_one_statement_and_a_refusal_writes_nothing(
    api, user, settings, aws_resources
):
    """The reservation and the new rows (the upload, its audit entry, what it owes) as one
    statement in its own transaction: one round trip, no BEGIN and COMMIT around it."""
    settings.UPLOADER_USER_QUOTA = 100
    assert api_start(api, size=10).status_code == 201  # the owner's first: the count is made
    with CaptureQueriesContext(connection) as captured:
        started = api_start(api, size=20)
    assert started.status_code == 201, started.json()
    statements = [q["sql"] for q in captured.captured_queries]
    tables = (QuotaUsage, Upload, UploadEvent, OutboxMessage)
    writes = [
        s
        for s in statements
        if s.startswith(("WITH", "INSERT", "UPDATE")) and any(m._meta.db_table in s for m in tables)
    ]
    assert len(writes) == 1 and writes[0].startswith("WITH q AS (UPDATE"), writes
    assert all(f'INSERT INTO "{m._meta.db_table}"' in writes[0] for m in tables[1:]), writes
    # Nothing else is written before it in a transaction of its own (the eager relay's after it).
    assert "BEGIN" not in statements[: statements.index(writes[0])], statements
    upload = Upload.objects.get(pk=started.json()["id"])
    assert (upload.held_bytes, _held(user)) == (20, 30)
    assert UploadEvent.objects.filter(upload_id=upload.pk, action="created").count() == 1

    refused = api_start(api, size=71)  # 30 + 71 > 100
    assert refused.status_code == 413 and refused.json()["code"] == "quota_exceeded", refused.json()
    assert Upload.objects.count() == 2 and UploadEvent.objects.filter(action="created").count() == 2
    assert _held(user) == 30


def test_a_release_is_never_refused_when_the_quota_was_lowered_below_what_is_held(user, settings, aws_resources):
    upload, _put = start_upload(user, jpeg_bytes())
    settings.UPLOADER_USER_QUOTA = 1  # lowered below what is held
    with pytest.raises(validation.PolicyError) as refused:
        start_upload(user, b"x")
    assert refused.value.code == "quota_exceeded"
    services.upload_abort(upload=Upload.objects.get(pk=upload.pk))
    assert _held(user) == 0


def test_an_owner_without_a_count_is_counted_from_their_uploads_at_their_next_start(user, aws_resources):
    _first, _put = start_upload(user, b"a" * 700)
    QuotaUsage.objects.filter(owner=user).delete()  # an owner the count has never seen
    assert selectors.upload_bytes_held(owner_id=user.pk) == 700  # read from the uploads meanwhile
    start_upload(user, b"b" * 300)
    assert QuotaUsage.objects.get(owner=user).held == 1000


def test_recount_quota_corrects_a_count_a_change_by_hand_left_wrong(user, other_user, aws_resources):
    mine, _put = start_upload(user, b"a" * 500)
    _theirs, _put = start_upload(other_user, b"b" * 200)
    Upload.objects.filter(pk=mine.pk).update(status="expired", held_bytes=0)  # past the services
    out = io.StringIO()
    call_command("recount_quota", stdout=out)
    assert f"owner {user.pk}: 500 -> 0 bytes" in out.getvalue()
    assert "2 owner(s) counted, 1 corrected." in out.getvalue()
    assert (_held(user), _held(other_user)) == (0, 200)


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_what_each_owner_held_by_the_rule_of_the_sum_it_replaces(settings):
    """Existing uploads are counted as the quota's sum counted them: the declared size, else what
    is stored, else the legacy reservation; ended ones not at all."""
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("uploader", "0015_destination_metadata")], [("uploader", "0016_quota_usage")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        apps = executor.loader.project_state(before).apps
        old_upload, old_user = apps.get_model("uploader", "Upload"), apps.get_model("auth", "User")
        owners = [old_user.objects.create(username=name) for name in ("ann", "ben")]
        rows = [(0, 100, None, "available"), (0, None, 40, "processing"), (0, None, None, "pending"),
                (0, 900, None, "rejected"), (1, 7, None, "pending"), (1, 5, None, "expired")]  # fmt: skip
        for n, (owner, size, stored, status) in enumerate(rows):
            old_upload.objects.create(
                owner=owners[owner], bucket="b", key=f"k{n}", original_filename="x", content_type="image/jpeg",
                size=size, stored_size=stored, status=status, expires_at=timezone.now(),
            )  # fmt: skip
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        counted = dict(QuotaUsage.objects.values_list("owner_id", "held"))
        legacy = min(settings.UPLOADER_MAX_SIZE, settings.UPLOADER_LEGACY_MAX_SIZE)
        assert counted == {owners[0].pk: 100 + 40 + legacy, owners[1].pk: 7}
        assert all(usage.recount(owner.pk) == (counted[owner.pk],) * 2 for owner in owners)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
