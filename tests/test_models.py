import datetime as dt
import uuid

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from uploader.models import InvalidTransition, Upload
from uploader.services import selectors

from .factories import make_user

S = Upload.Status
NOW = timezone.now()


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


def _plain_indexes(model):
    """{name: columns} of the table's indexes that are neither its key nor a uniqueness rule
    (PostgreSQL's `_like` twins, for LIKE on a text column, left out: another operator class)."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {
        name: tuple(info["columns"])
        for name, info in found.items()
        if info["index"] and not info["unique"] and not info["primary_key"] and not name.endswith("_like")
    }


@pytest.mark.django_db
@pytest.mark.parametrize("model", list(apps.get_app_config("uploader").get_models()), ids=lambda m: m.__name__)
def test_no_index_is_the_start_of_another(model):
    """An index whose columns begin another index serves nothing the other does not, and every
    write of a row maintains it: a start of an upload wrote two such B-trees (owner, status)."""
    indexes = _plain_indexes(model)
    covered = [
        (name, other)
        for name, columns in indexes.items()
        for other, longer in indexes.items()
        if other != name and len(longer) > len(columns) and longer[: len(columns)] == columns
    ]
    assert not covered, covered


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, query",
    [
        ("an owner's uploads, newest first", lambda user: selectors.upload_list(user=user)),
        ("an owner's uploads, deleted with the owner", lambda user: Upload.objects.filter(owner_id__in=[user.pk])),
        (
            "pending uploads past their deadline",
            lambda _user: Upload.objects.filter(status=S.PENDING, expires_at__lt=NOW),
        ),
        ("uploads in one status", lambda _user: Upload.objects.filter(status=S.PROCESSING)),
        ("an upload's audit trail", lambda user: selectors.upload_audit_trail(upload_id=uuid.uuid4())),
    ],
)
def test_the_lookups_that_matter_use_an_index(name, query):
    """What the dropped single-column indexes served, served by the composite ones (their
    leading column): the planner, told that a full scan is the last resort, still finds an index."""
    sql, params = query(make_user()).query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "Index" in plan and "Seq Scan" not in plan, (name, plan)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "SEARCH" in plan and "USING INDEX" in plan and "SCAN" not in plan, (name, plan)
