"""The presign's shortcuts (README, Benchmarks) must write and answer exactly what Django's and
DRF's own ways do: the compiled INSERT against save(), the answer read without binding fields
against DRF's loop, the input's fields copied once against DRF's deep copy."""

import datetime as dt
import uuid

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as settings_for_hypothesis
from hypothesis import strategies as st
from rest_framework import serializers as drf
from rest_framework.test import APIRequestFactory

from tests.factories import make_user
from uploader.api.serializers import (
    BatchCompleteInput,
    BatchStartInput,
    BatchStartItemInput,
    CompleteInput,
    PartsInput,
    UploadOutput,
    UploadStartInput,
    UploadStartOutput,
)
from uploader.models import OutboxMessage, Upload, UploadEvent
from uploader.rows import fetch, insert, insert_all, prepare_insert, update


def _upload(owner, **extra):
    upload_id = uuid.uuid4()
    now = timezone.now()
    fields = {
        "id": upload_id,
        "owner": owner,
        "bucket": settings.UPLOADER_BUCKET,
        "key": f"uploads/{owner.pk}/{upload_id}/ünï code.jpg",
        "original_filename": "ünï code.jpg",
        "content_type": "image/jpeg",
        "size": 1234,
        "metadata": {"caption": "lake", "n": 3, "ok": True, "none": None},
        "created_at": now,
        "expires_at": now + dt.timedelta(hours=1),
    }
    return Upload(**(fields | extra))


def _row(model, pk):
    obj = model.objects.get(pk=pk)
    return {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields if f.attname != "id"}


@pytest.mark.django_db
def test_the_compiled_insert_writes_what_save_writes():
    owner = make_user()
    fast, slow = _upload(owner, relative_path="a/b"), _upload(owner, relative_path="a/b")
    insert(fast)
    slow.save(force_insert=True)
    assert not fast._state.adding and fast._state.db == "default"
    fast_row, slow_row = _row(Upload, fast.pk), _row(Upload, slow.pk)
    assert fast_row["updated_at"] is not None  # auto_now: pre_save ran, as in save()
    for differing in ("key", "created_at", "expires_at", "updated_at"):
        fast_row.pop(differing), slow_row.pop(differing)
    assert fast_row == slow_row
    assert Upload.objects.get(pk=fast.pk).metadata == {"caption": "lake", "n": 3, "ok": True, "none": None}

    # Generated keys come back (RETURNING on both databases); defaults are applied as save() does.
    events = [
        UploadEvent(upload_id=fast.pk, upload_key=fast.key, owner_id=owner.pk, actor=owner, action="created", version=1)
        for _ in range(2)
    ]
    insert(events[0])
    events[1].save()
    assert events[0].pk is not None and events[0].pk != events[1].pk
    assert _row(UploadEvent, events[0].pk) | {"created_at": None} == _row(UploadEvent, events[1].pk) | {
        "created_at": None
    }
    message = OutboxMessage(task="mirror", args=[str(fast.pk)])
    insert(message)
    stored = OutboxMessage.objects.get(pk=message.pk)
    assert (stored.task, stored.args, stored.attempts) == ("mirror", [str(fast.pk)], 0)
    assert stored.not_before is not None

    # One statement a row, and a later save() of the same object is an UPDATE, not a second row.
    with CaptureQueriesContext(connection) as queries:
        insert(OutboxMessage(task="mirror", args=["x"]))
    assert len(queries) == 1 and queries[0]["sql"].upper().startswith("INSERT")
    fast.original_filename = "renamed.jpg"
    fast.save()
    assert Upload.objects.filter(owner=owner).count() == 2
    assert Upload.objects.get(pk=fast.pk).original_filename == "renamed.jpg"


@pytest.mark.django_db
def test_inserts_sent_together_write_what_each_alone_writes_and_return_their_keys():
    """insert_all: on PostgreSQL one statement (each INSERT in a WITH clause), elsewhere one each;
    the rows and their generated keys are what separate INSERTs give."""
    owner = make_user()
    together, alone = _upload(owner, relative_path="x"), _upload(owner, relative_path="x")

    def trail(upload):
        return UploadEvent(upload_id=upload.pk, upload_key=upload.key, owner_id=owner.pk, action="created", version=1)

    batch = [together, trail(together), OutboxMessage(task="mirror", args=["a"]), OutboxMessage(task="mirror")]
    with CaptureQueriesContext(connection) as queries:
        insert_all([prepare_insert(obj) for obj in batch])
    assert len(queries) == (1 if connection.vendor == "postgresql" else 4)
    for obj in (alone, trail(alone), OutboxMessage(task="mirror", args=["a"]), OutboxMessage(task="mirror")):
        insert(obj)
    assert all(obj.pk is not None and not obj._state.adding for obj in batch)
    assert batch[2].pk != batch[3].pk and OutboxMessage.objects.get(pk=batch[3].pk).args == []
    rows = _row(Upload, together.pk), _row(Upload, alone.pk)
    assert [
        {k: v for k, v in row.items() if k not in ("key", "created_at", "expires_at", "updated_at")} for row in rows
    ] == [{k: v for k, v in rows[1].items() if k not in ("key", "created_at", "expires_at", "updated_at")}] * 2
    assert _row(UploadEvent, batch[1].pk) | {"created_at": None, "upload_id": None, "upload_key": None} == _row(
        UploadEvent, UploadEvent.objects.get(upload_id=alone.pk).pk
    ) | {"created_at": None, "upload_id": None, "upload_key": None}


@pytest.mark.django_db
def test_the_compiled_update_writes_what_save_writes():
    owner = make_user()
    fast, slow = _upload(owner), _upload(owner)
    fast.save(), slow.save()
    for upload in (fast, slow):
        upload.transition("processing")
        upload.metadata = {"caption": "changed"}
        upload.width = 640
    before = Upload.objects.get(pk=fast.pk).updated_at
    update(fast)
    slow.save()
    fast_row, slow_row = _row(Upload, fast.pk), _row(Upload, slow.pk)
    assert fast_row["updated_at"] > before  # auto_now: pre_save ran, as in save()
    for differing in ("key", "created_at", "expires_at", "updated_at"):
        fast_row.pop(differing), slow_row.pop(differing)
    assert fast_row == slow_row and fast_row["status"] == "processing" and fast_row["version"] == 2
    assert Upload.objects.count() == 2
    gone = _upload(owner)  # never saved: no row has its key
    with pytest.raises(DatabaseError):
        update(gone)


@pytest.mark.django_db(transaction=True)  # autocommit outside the atomic block below
def test_fetch_reads_what_the_orm_reads_and_only_the_matching_row():
    owner, other = make_user(), make_user("bob")
    upload = _upload(owner, status="available", width=10, uploaded_at=timezone.now())
    upload.save()
    fetched, expected = fetch(Upload, upload.pk, owner_id=owner.pk), Upload.objects.get(pk=upload.pk)
    assert fetched is not None and not fetched._state.adding
    for field in Upload._meta.concrete_fields:
        assert getattr(fetched, field.attname) == getattr(expected, field.attname), field.name
    assert type(fetched.id) is type(expected.id) and fetched.metadata == upload.metadata
    assert fetch(Upload, str(upload.pk)) is not None  # the key as the URL gives it
    assert fetch(Upload, upload.pk, owner_id=other.pk) is None
    assert fetch(Upload, uuid.uuid4()) is None
    with pytest.raises(TransactionManagementError):
        fetch(Upload, upload.pk, for_update=True)  # a lock outside a transaction would be none
    with transaction.atomic():
        assert fetch(Upload, upload.pk, for_update=True).pk == upload.pk


@pytest.mark.django_db
def test_the_answer_is_what_drfs_own_loop_gives():
    assert UploadStartOutput._plan() is not None  # the shortcut is taken, not DRF's loop again
    owner = make_user()
    request = APIRequestFactory().get("/")
    request.user = owner
    uploads = [
        _upload(owner),
        _upload(
            owner,
            status="available",
            stored_size=1234,
            etag="abc",
            width=640,
            height=480,
            media_status="ready",
            checksum_sha256="x" * 44,
            uploaded_at=timezone.now(),
        ),
        _upload(owner, status="rejected", status_reason="type_mismatch", review_status="rejected", size=None),
        _upload(owner, part_size=8 * 1024 * 1024, duration=12.5, codec="vp8", page_count=None),
    ]
    for upload in uploads:
        upload.save()
        upload = Upload.objects.get(pk=upload.pk)
        output = UploadOutput(upload, context={"request": request})
        assert output.data == drf.ModelSerializer.to_representation(output, upload)
        for instruction in (
            {"upload": {"method": "PUT", "url": "http://s3/x", "headers": {}}},
            {"multipart": {"upload_id": "u", "part_size": 5, "part_count": 2, "parts": []}},
        ):
            context = {"request": request, "instruction": instruction, "url_expires_at": upload.created_at}
            started = UploadStartOutput(upload, context=context)
            expected = drf.ModelSerializer.to_representation(started, upload)
            expected.pop("multipart" if "upload" in instruction else "upload")
            assert started.data == expected
    many = UploadOutput(
        Upload.objects.filter(owner=owner).order_by("created_at"), many=True, context={"request": request}
    )
    assert [item["id"] for item in many.data] == [
        str(u.pk) for u in Upload.objects.filter(owner=owner).order_by("created_at")
    ]


def test_the_inputs_copies_are_independent():
    """Fields copied once per class and shallowly per instance: one request's binding and errors do
    not leak into another's."""
    bad = UploadStartInput(data={"filename": "", "content_type": "image/jpeg", "size": "x", "parts": [{}]})
    assert not bad.is_valid()
    good = UploadStartInput(
        data={
            "filename": "a.jpg",
            "content_type": "image/jpeg",
            "size": 3,
            "metadata": {"k": "v"},
            "parts": [{"part_number": 1, "checksum_sha256": "A" * 43 + "="}],
        }
    )
    assert good.is_valid(), good.errors
    assert good.validated_data["parts"] == [{"part_number": 1, "checksum_sha256": "A" * 43 + "="}]
    assert set(bad.errors) == {"filename", "size", "parts"}
    assert good.fields["filename"] is not bad.fields["filename"]
    assert good.fields["filename"].parent is good and bad.fields["filename"].parent is bad
    assert UploadStartInput(data={}).is_valid() is False


@pytest.mark.parametrize(
    "value",
    ["2026-12-06T23:50:09.000Z", "2026-12-06T23:50:09Z", "2026-12-06T23:50:09.123456Z",
     "Sun, 06 Dec 2026 23:50:09 GMT", "1796600000", 1796600000, "2026-12-06T23:50:09+09:00"],
)  # fmt: skip
def test_timestamps_in_aws_answers_parse_as_botocores_own_parser_gives_them(value):
    import botocore.utils

    from uploader.aws import parse_timestamp

    ours, theirs = parse_timestamp(value), botocore.utils.parse_timestamp(value)
    assert ours == theirs and ours.utcoffset() == theirs.utcoffset()


def test_every_client_parses_timestamps_with_ours(aws_resources):
    """The hook is botocore's own: an XML answer's timestamp is the standard library's (its UTC, not
    dateutil's), a header's goes to botocore's parser; both aware and equal."""
    from uploader import aws

    aws.s3().put_object(Bucket=aws_resources, Key="uploads/ts.txt", Body=b"x")
    head = aws.s3().head_object(Bucket=aws_resources, Key="uploads/ts.txt")
    listed = aws.s3().list_objects_v2(Bucket=aws_resources, Prefix="uploads/ts.txt")["Contents"][0]
    assert head["LastModified"].utcoffset() is not None and listed["LastModified"].utcoffset() is not None
    assert abs((head["LastModified"] - listed["LastModified"]).total_seconds()) < 1
    assert listed["LastModified"].tzinfo is dt.UTC
    aws.s3().delete_object(Bucket=aws_resources, Key="uploads/ts.txt")


_CHECKSUM = "A" * 43 + "="
_EDGES = [
    "", " ", "a.jpg", " photo.JPG ", "\x00x", "x\ud800", "사진.heic", "PUT", "POST", "put", "12", "1e3", _CHECKSUM,
    f" {_CHECKSUM} ", "A" * 43, None, True, False, 0, -1, 3, 3.0, 3.5, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1,
    [], ["x"], {}, {"k": "v"}, {"k": None, "n": [1, {"x": 2}]}, {1: "x"},
    *(pad + "a" * n + pad for n in (64, 65, 255, 256, 1024, 1025, 4096, 4097) for pad in ("", " ")),
]  # fmt: skip
_NAMES = [
    "filename", "content_type", "size", "relative_path", "checksum_sha256", "destination", "metadata", "method",
    "part_size", "parts", "skip_if_available", "other",
]  # fmt: skip
_PLAIN = {"filename": "a.jpg", "content_type": "image/jpeg", "size": 3}


def _agrees(serializer, data):
    """The plain check's answer, having held it equal to DRF's where it gives one."""
    plain = serializer.plain(data)
    checked = serializer(data=data)
    if plain is not None:
        assert checked.is_valid(), (data, checked.errors)
        assert plain == dict(checked.validated_data), data
        assert [type(v) for v in plain.values()] == [type(checked.validated_data[k]) for k in plain], data
    return plain


@pytest.mark.parametrize("serializer", [UploadStartInput, BatchStartItemInput])
def test_the_plain_input_check_gives_what_drf_gives_at_every_edge(serializer):
    """Each field given each edge value (a limit and one past it, padded, of the wrong type,
    null): wherever the plain check answers, DRF's validation agrees to the value; where it does
    not, DRF decides (and gives the errors)."""
    answered = 0
    for base in ({}, _PLAIN):
        for name in _NAMES:
            for value in _EDGES:
                answered += _agrees(serializer, base | {name: value}) is not None
    assert answered > 100  # most plain edges are answered without DRF


@pytest.mark.parametrize("serializer", [UploadStartInput, BatchStartItemInput])
@settings_for_hypothesis(max_examples=300, deadline=None)
@given(
    base=st.sampled_from([{}, _PLAIN]),
    changes=st.dictionaries(
        st.sampled_from(_NAMES),
        st.one_of(st.sampled_from(_EDGES), st.text(max_size=8), st.integers(), st.dictionaries(st.text(), st.text())),
    ),
)
def test_the_plain_input_check_gives_what_drf_gives(serializer, base, changes):
    _agrees(serializer, base | changes)


def test_the_plain_batch_check_gives_what_drf_gives():
    """A batch is plain when its list and every item are; its bounds are DRF's."""
    items = [_PLAIN | {name: value} for name in _NAMES for value in _EDGES[:16]]
    plain_items = [item for item in items if BatchStartItemInput.plain(item) is not None] * 2
    assert len(plain_items) > 100
    for uploads in ([], plain_items[:1], plain_items[:100], plain_items[:101], items[:30], "x", [None], [[]]):
        _agrees(BatchStartInput, {"uploads": uploads})
    assert _agrees(BatchStartInput, {"uploads": plain_items[:100]}) is not None
    assert BatchStartInput.plain({"uploads": plain_items[:101]}) is None  # over the limit: DRF's error
    assert _agrees(BatchStartInput, {"uploads": [_PLAIN | {"skip_if_available": True}]}) is not None


def test_the_plain_check_of_lists_of_parts_gives_what_drf_gives():
    """Parts to sign, parts to complete, a batch of completes: lists of small objects, each item
    plain or the whole request DRF's; their bounds (part numbers, lengths, emptiness) are DRF's."""
    an_id = uuid.uuid4()
    numbers = [0, 1, 10_000, 10_001, "1", True, None, 2.0, -(2**64)]
    texts = ["", " e ", "a" * 128, "a" * 129, _CHECKSUM, f" {_CHECKSUM} ", "A" * 43, 7, None, "\x00"]
    asked = [{"part_number": n, "checksum_sha256": t} for n in numbers for t in texts]
    sent = [{"part_number": n, "etag": t} for n in numbers for t in texts]
    ids = [str(an_id), an_id.hex, f"{{{an_id}}}", f"urn:uuid:{an_id}", "not-an-id", "", an_id.int, None]
    answered = 0
    for parts in ([], *([one] for one in asked), asked[10:14], "x", [None], None):
        answered += _agrees(PartsInput, {"parts": parts}) is not None
        answered += _agrees(UploadStartInput, _PLAIN | {"parts": parts}) is not None
    for parts in ([], *([one] for one in sent), sent[10:14], "x", None):
        answered += _agrees(CompleteInput, {"parts": parts}) is not None
        for id_ in ids:
            answered += _agrees(BatchCompleteInput, {"uploads": [{"id": id_, "parts": parts}]}) is not None
    assert _agrees(BatchCompleteInput, {"uploads": [{"id": str(an_id)}] * 101}) is None
    assert _agrees(BatchCompleteInput, {"uploads": []}) is None
    assert _agrees(CompleteInput, {}) == {}
    assert answered > 50  # every plain single part, alone and in each plain form of an id


def test_the_plain_input_check_takes_what_clients_send():
    """It would be no shortcut if the usual starts missed it: the page's, the CLI's, a phone's."""
    usual = [
        _PLAIN,
        _PLAIN | {"relative_path": "holiday/day1", "checksum_sha256": _CHECKSUM, "metadata": {"caption": "x"}},
        _PLAIN | {"method": "POST", "destination": "avatars", "part_size": None},
        _PLAIN | {"size": 100 * 2**20, "part_size": 8 * 2**20},
    ]
    for data in usual:
        assert _agrees(UploadStartInput, data) is not None
    assert UploadStartInput.plain(_PLAIN | {"parts": [{"part_number": "1"}]}) is None  # DRF coerces it
    assert UploadStartInput.plain({"filename": "a.jpg", "size": 3}) is None  # a required field missing
    assert UploadStartInput.plain(_PLAIN | {"size": "3"}) is None  # DRF coerces it: its way


@pytest.mark.django_db
def test_a_rows_values_are_what_saves_own_preparation_gives():
    """rows._values sends a plain value of a plain field as it is (adapted, for integers): every
    field of the app's rows, with values of the usual types and of others, gives what
    get_db_prep_save(pre_save()) gives, on this database."""
    owner = make_user()
    upload = _upload(owner, relative_path="a/b", width=640, duration=1.5, stored_size=2**40)
    odd = _upload(owner, width=True, size="12", duration=2, version=3.0, original_filename=7, expires_at=None)
    odd.created_at = dt.datetime(2026, 12, 7, 9, 30)  # naive: the field's own way (and its warning)
    odd.scanned_at = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    objects = [
        upload,
        odd,
        UploadEvent(upload_id=upload.pk, upload_key=upload.key, owner_id=owner.pk, actor=owner, action="x", version=1),
        UploadEvent(upload_id=str(upload.pk), owner_id=str(owner.pk), actor_id=owner.pk, action="x", version=True),
        OutboxMessage(task="mirror", args=["a"], attempts=2),
    ]
    compared = 0
    with pytest.warns(RuntimeWarning, match="naive datetime"):  # the odd one's, from the field's own way
        for obj in objects:
            compared += _compare_values(obj)
    assert compared > 100


def _compare_values(obj):
    from uploader.rows import _statement, _update, _values

    compared = 0
    model = type(obj)
    for adding, fields in (
        (True, _statement(model, "default", connection.vendor, obj.pk is None)[1]),
        (False, _update(model, "default", connection.vendor)[1]),
    ):
        fast = _values(obj, fields, connection, adding=adding)
        slow = [f.get_db_prep_save(f.pre_save(obj, adding), connection=connection) for f in fields]
        for field, got, wanted in zip(fields, fast, slow, strict=True):
            if getattr(field, "auto_now", False) or (adding and getattr(field, "auto_now_add", False)):
                continue  # stamped anew by each pre_save
            if type(wanted).__name__ == "Jsonb":  # psycopg's wrapper, which has no equality of its own
                got, wanted = got.obj, wanted.obj
            assert (type(got), got) == (type(wanted), wanted), (model.__name__, field.name)
            compared += 1
    return compared
