import base64
import hashlib
import os

import pytest

from uploader import aws, services
from uploader.aws import multipart
from uploader.client.transfer import part_size_for
from uploader.models import Upload, UploadEvent

from .helpers import put_object, s3_operations_on

MiB = 1024 * 1024


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# --- the plan and the checks: pure ---


@pytest.mark.parametrize(
    "size, part_size, count",
    [
        (16 * MiB + 1, 8 * MiB, 3),
        (80 * MiB, 8 * MiB, 10),
        (512 * MiB, 32 * MiB, 16),
        (1024 * MiB, 64 * MiB, 16),
        (1024 * MiB + 1, 64 * MiB, 17),
        (5 * 1024**3, 64 * MiB, 80),
        (5 * 1024**4, 549_755_814, 10_000),
    ],
)
def test_plan_uses_about_16_parts_of_8_to_64_mib_and_never_more_than_10000(size, part_size, count):
    assert multipart.plan(size) == (part_size, count)
    assert count <= 10_000 and part_size * count >= size
    # The reference client asks for the cut the server would plan, so its first parts' checksums
    # can go with the start.
    assert part_size_for(size) == part_size


def test_a_client_may_choose_its_part_size_within_bounds():
    assert multipart.plan(1024 * MiB, 8 * MiB) == (8 * MiB, 128)
    assert multipart.plan(100 * MiB, 10 * MiB + 1) == (10 * MiB + 1, 10)
    for size, part_size in ((1024 * MiB, 5 * MiB), (1024 * MiB, 65 * MiB), (100 * 1024**3, 8 * MiB), (MiB, 0)):
        with pytest.raises(ValueError):
            multipart.plan(size, part_size)


def test_last_part_is_the_remainder():
    assert [multipart.part_length(n, size=17 * MiB, part_size=8 * MiB) for n in (1, 2, 3)] == [8 * MiB, 8 * MiB, MiB]


def _parts(*sizes):
    return [multipart.Part(n, size, f"etag{n}") for n, size in enumerate(sizes, 1)]


def test_check_parts_accepts_exactly_the_plan():
    multipart.check_parts(_parts(8, 8, 1), size=17, part_size=8)
    multipart.check_parts(_parts(8, 8, 1), size=17, part_size=8, claimed=[(1, "etag1"), (2, '"etag2"'), (3, "etag3")])


@pytest.mark.parametrize(
    "stored, claimed, code, fatal",
    [
        (_parts(8, 8), None, "parts_missing", False),
        (_parts(8, 8, 1, 5), None, "size_mismatch", True),
        (_parts(8, 7, 1), None, "size_mismatch", True),
        (_parts(8, 8, 1), [(1, "etag1"), (2, "other"), (3, "etag3")], "parts_mismatch", False),
        (_parts(8, 8, 1), [(1, "etag1"), (1, "etag1")], "parts_mismatch", False),
    ],
)
def test_check_parts_refuses(stored, claimed, code, fatal):
    with pytest.raises(multipart.PartsError) as info:
        multipart.check_parts(stored, size=17, part_size=8, claimed=claimed)
    assert (info.value.code, info.value.fatal) == (code, fatal)


# --- through the API, against the emulator ---


@pytest.fixture(scope="module")
def blob():
    return _zip_blob(os.urandom(17 * MiB))  # three parts: 8 + 8 + 1 MiB, starting like a zip


def _chunks(blob, part_size=8 * MiB):
    return [blob[i : i + part_size] for i in range(0, len(blob), part_size)]


def _part_requests(blob, numbers):
    chunks = _chunks(blob)
    return [{"part_number": n, "checksum_sha256": sha256_b64(chunks[n - 1])} for n in numbers]


@pytest.fixture
def started(api, blob, aws_resources):
    response = api.post(
        "/api/v1/uploads/",
        {
            "filename": "archive.zip",
            "content_type": "application/zip",
            "size": len(blob),
            "parts": _part_requests(blob, [1]),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def _send_parts(api, started, blob, numbers):
    signed = api.post(
        f"/api/v1/uploads/{started['id']}/parts/", {"parts": _part_requests(blob, numbers)}, format="json"
    )
    assert signed.status_code == 200, signed.json()
    chunks = _chunks(blob)
    etags = {}
    for part in signed.json()["parts"]:
        response = put_object({"method": "PUT", **part}, chunks[part["part_number"] - 1])
        assert response.status_code == 200, response.text
        etags[part["part_number"]] = response.headers["ETag"]
    return etags


def _zip_blob(blob):
    return b"PK\x03\x04" + blob[4:]


pytestmark = pytest.mark.django_db(transaction=True)


def test_a_multipart_upload_from_plan_to_available(api, aws_resources, drain):
    blob = _zip_blob(os.urandom(17 * MiB))
    response = api.post(
        "/api/v1/uploads/",
        {
            "filename": "archive.zip",
            "content_type": "application/zip",
            "size": len(blob),
            "parts": _part_requests(blob, [1, 2]),
        },
        format="json",
    )
    assert response.status_code == 201
    started = response.json()
    assert "upload" not in started
    plan = started["multipart"]
    assert (plan["part_size"], plan["part_count"]) == (8 * MiB, 3)
    assert [p["part_number"] for p in plan["parts"]] == [1, 2]  # signed in batches, not all up front
    chunks = _chunks(blob)
    etags = {}
    for part in plan["parts"]:
        etags[part["part_number"]] = put_object({"method": "PUT", **part}, chunks[part["part_number"] - 1]).headers[
            "ETag"
        ]
    etags.update(_send_parts(api, started, blob, [3]))

    stored = api.get(f"/api/v1/uploads/{started['id']}/parts/").json()
    assert [(p["part_number"], p["size"]) for p in stored["parts"]] == [(1, 8 * MiB), (2, 8 * MiB), (3, MiB)]

    claimed = [{"part_number": n, "etag": e} for n, e in sorted(etags.items())]
    response = api.post(f"/api/v1/uploads/{started['id']}/complete/", {"parts": claimed}, format="json")
    assert response.status_code == 202, response.json()
    drain(lambda: Upload.objects.get(pk=started["id"]).status != "processing")  # the worker checks it
    upload = Upload.objects.get(pk=started["id"])
    assert upload.status == "available", upload.status_reason
    head = aws.s3().head_object(Bucket=upload.bucket, Key=upload.key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(blob)
    assert upload.checksum_sha256 == head["ChecksumSHA256"]  # our composite equals S3's
    # Repeating complete is harmless.
    again = api.post(f"/api/v1/uploads/{started['id']}/complete/", {"parts": claimed}, format="json")
    assert again.status_code == 202
    upload.refresh_from_db()
    assert (upload.status, upload.version) == ("available", 3)
    # S3's CompleteMultipartUpload event names the object verified (same ETag): nothing to re-check.
    drain(lambda: Upload.objects.get(pk=upload.pk).last_sequencer)
    upload.refresh_from_db()
    assert (upload.status, upload.version) == ("available", 3)


def test_a_client_that_chooses_its_part_size_gets_its_first_part_urls_with_the_start(api, aws_resources):
    """The reference client's way: the start carries the part size and its first parts' checksums
    (tests/test_client.py: all of a file of up to 16 parts, so 1 GiB is two requests)."""
    blob = _zip_blob(os.urandom(30 * MiB))
    part_size = 10 * MiB
    chunks = _chunks(blob, part_size)
    parts = [{"part_number": n, "checksum_sha256": sha256_b64(chunks[n - 1])} for n in (1, 2)]
    body = {"filename": "a.zip", "content_type": "application/zip", "size": len(blob), "parts": parts}
    response = api.post("/api/v1/uploads/", {**body, "part_size": part_size}, format="json")
    assert response.status_code == 201, response.json()
    plan = response.json()["multipart"]
    assert (plan["part_size"], plan["part_count"]) == (part_size, 3)
    for part in plan["parts"]:
        assert put_object({"method": "PUT", **part}, chunks[part["part_number"] - 1]).status_code == 200
    # The size pinned in part 3's signature is the client's cut: the server's own plan would differ.
    signed = api.post(
        f"/api/v1/uploads/{response.json()['id']}/parts/",
        {"parts": [{"part_number": 3, "checksum_sha256": sha256_b64(chunks[2])}]},
        format="json",
    ).json()["parts"]
    assert put_object({"method": "PUT", **signed[0]}, chunks[2]).status_code == 200
    done = api.post(f"/api/v1/uploads/{response.json()['id']}/complete/", {}, format="json")
    assert done.status_code == 202, done.json()

    # A part size out of bounds is refused before anything is created, in S3 or in the database.
    before = Upload.objects.count()
    for wrong in (5 * MiB, 65 * MiB):
        refused = api.post("/api/v1/uploads/", {**body, "part_size": wrong}, format="json")
        assert refused.status_code == 400 and refused.json()["code"] == "invalid_part_size", refused.json()
    assert Upload.objects.count() == before


def test_a_part_whose_bytes_differ_from_its_checksum_is_refused_by_s3(started, blob):
    [part] = started["multipart"]["parts"]
    corrupt = bytearray(_chunks(blob)[0])
    corrupt[100] ^= 0xFF
    assert put_object({"method": "PUT", **part}, bytes(corrupt)).status_code in (400, 403)


def test_missing_parts_leave_it_resumable(api, started, blob):
    _send_parts(api, started, blob, [1, 3])
    response = api.post(f"/api/v1/uploads/{started['id']}/complete/")
    assert response.status_code == 400
    assert response.json()["code"] == "parts_missing"
    assert response.json()["detail"] == "Parts not uploaded yet: 2."
    assert Upload.objects.get(pk=started["id"]).status == "pending"
    _send_parts(api, started, blob, [2])
    completed = api.post(f"/api/v1/uploads/{started['id']}/complete/")
    assert completed.status_code == 202
    # Finished in S3, whole, and through the worker's checks.
    upload = Upload.objects.get(pk=started["id"])
    assert (upload.status, upload.stored_size) == ("available", len(blob))
    assert aws.s3().head_object(Bucket=upload.bucket, Key=upload.key)["ContentLength"] == len(blob)


def test_a_wrong_part_list_is_400_and_changes_nothing(api, started, blob):
    etags = _send_parts(api, started, blob, [1, 2, 3])
    claimed = [{"part_number": n, "etag": "0" * 32 if n == 2 else e} for n, e in etags.items()]
    response = api.post(f"/api/v1/uploads/{started['id']}/complete/", {"parts": claimed}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "parts_mismatch"
    assert Upload.objects.get(pk=started["id"]).status == "pending"


def _claims(blob, etags, **wrong):
    """The complete's list naming every part with its ETag and SHA-256; `wrong` swaps one field of
    one part (`etag=2`: part 2's ETag) for a well-formed value S3 does not hold."""
    chunks, field = _chunks(blob), next(iter(wrong), None)
    claims = [{"part_number": n, "etag": e, "checksum_sha256": sha256_b64(chunks[n - 1])} for n, e in etags.items()]
    for claim in claims:
        if field and claim["part_number"] == wrong[field]:
            claim[field] = '"' + "0" * 32 + '"' if field == "etag" else sha256_b64(b"not this part")
    return claims


def test_a_complete_naming_every_part_with_its_sha256_is_checked_by_s3_as_it_assembles_them(api, started, blob):
    etags = _send_parts(api, started, blob, [1, 2, 3])
    response = api.post(f"/api/v1/uploads/{started['id']}/complete/", {"parts": _claims(blob, etags)}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "processing"
    upload = Upload.objects.get(pk=started["id"])
    # S3 checked each part's ETag and SHA-256 in CompleteMultipartUpload itself: no ListParts first.
    assert {"s3:CompleteMultipartUpload", "s3:ListParts"} & s3_operations_on(upload) == {"s3:CompleteMultipartUpload"}
    assert upload.checksum_sha256 == multipart.composite_checksum([sha256_b64(c) for c in _chunks(blob)])
    assert aws.s3().head_object(Bucket=upload.bucket, Key=upload.key)["ContentLength"] == len(blob)
    assert _multipart_uploads(upload) == []


@pytest.mark.parametrize("wrong", [{"etag": 2}, {"checksum_sha256": 3}])
def test_a_full_part_list_s3_does_not_hold_is_400_names_the_part_and_leaves_it_resumable(api, started, blob, wrong):
    etags = _send_parts(api, started, blob, [1, 2, 3])
    complete = f"/api/v1/uploads/{started['id']}/complete/"
    response = api.post(complete, {"parts": _claims(blob, etags, **wrong)}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "parts_mismatch"
    assert response.json()["detail"] == f"Parts {next(iter(wrong.values()))} do not match what the store holds."
    upload = Upload.objects.get(pk=started["id"])
    assert upload.status == "pending" and _multipart_uploads(upload) == [upload.multipart_upload_id]
    assert api.post(complete, {"parts": _claims(blob, etags)}, format="json").status_code == 202


def test_only_a_list_of_every_planned_part_with_its_sha256_skips_the_list_of_parts():
    claims = [(1, "e1", "c1"), (2, "e2", "c2"), (3, "e3", "c3")]
    parts = multipart.claimed_in_full(claims, size=17, part_size=8)
    assert [(p.number, p.size, p.etag, p.checksum_sha256) for p in parts] == [
        (1, 8, "e1", "c1"),
        (2, 8, "e2", "c2"),
        (3, 1, "e3", "c3"),
    ]
    for claimed, size in [
        (claims, None),  # no declared size: what the parts add up to is checked against S3's list
        (claims[:2], 17),  # a part missing
        ([*claims, (3, "e3", "c3")], 17),  # a part twice
        ([*claims, (4, "e4", "c4")], 17),  # a part past the plan
        ([claims[0], (2, "e2", ""), claims[2]], 17),  # a SHA-256 missing
        ([(1, "e1"), (2, "e2"), (3, "e3")], 17),  # no SHA-256 at all (older clients)
        (None, 17),
    ]:
        assert multipart.claimed_in_full(claimed, size=size, part_size=8) is None


def test_an_oversized_total_aborts_and_rejects(api, started, blob):
    upload = Upload.objects.get(pk=started["id"])
    _send_parts(api, started, blob, [1, 2, 3])
    # A part the server never signed, put there with storage credentials.
    aws.s3().upload_part(
        Bucket=upload.bucket,
        Key=upload.key,
        UploadId=upload.multipart_upload_id,
        PartNumber=4,
        Body=b"extra",
        ChecksumSHA256=sha256_b64(b"extra"),
    )
    response = api.post(f"/api/v1/uploads/{started['id']}/complete/")
    assert response.status_code == 400 and response.json()["code"] == "size_mismatch"
    upload.refresh_from_db()
    assert upload.status == "rejected" and "not the declared" in upload.status_reason
    assert _multipart_uploads(upload) == []
    assert api.post(f"/api/v1/uploads/{started['id']}/complete/").status_code == 409


def test_complete_after_abort_is_409_and_nothing_is_left_in_s3(api, started, blob):
    upload = Upload.objects.get(pk=started["id"])
    _send_parts(api, started, blob, [1])
    assert _multipart_uploads(upload) == [upload.multipart_upload_id]
    assert api.post(f"/api/v1/uploads/{started['id']}/abort/").json()["status"] == "expired"
    assert _multipart_uploads(upload) == []
    response = api.post(f"/api/v1/uploads/{started['id']}/complete/")
    assert response.status_code == 409 and response.json()["code"] == "wrong_state"
    assert (
        api.post(
            f"/api/v1/uploads/{started['id']}/parts/", {"parts": _part_requests(blob, [2])}, format="json"
        ).status_code
        == 409
    )


@pytest.mark.parametrize(
    "parts, code",
    [
        ([{"part_number": 4, "checksum_sha256": sha256_b64(b"x")}], "invalid_part_number"),
        ([{"part_number": 0, "checksum_sha256": sha256_b64(b"x")}], "min_value"),
        ([{"part_number": 1, "checksum_sha256": "bad"}], "invalid"),
        ([], "empty"),
        ([{"part_number": 2, "checksum_sha256": sha256_b64(b"x")}] * 2, "invalid_part_number"),  # twice
        ([{"part_number": 1, "checksum_sha256": sha256_b64(b"x")}] * 101, "too_many_parts"),
    ],
)
def test_bad_part_requests_are_400(api, started, parts, code):
    response = api.post(f"/api/v1/uploads/{started['id']}/parts/", {"parts": parts}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_a_single_put_upload_has_no_parts(api, aws_resources):
    upload_id = api.post(
        "/api/v1/uploads/", {"filename": "a.txt", "content_type": "text/plain", "size": 3}, format="json"
    ).json()["id"]
    assert api.get(f"/api/v1/uploads/{upload_id}/parts/").status_code == 409


def test_stale_pending_uploads_expire_and_their_parts_are_aborted(api, started, blob):
    from django.utils import timezone

    upload = Upload.objects.get(pk=started["id"])
    _send_parts(api, started, blob, [1])
    Upload.objects.filter(pk=upload.pk).update(expires_at=timezone.now())
    assert services.upload_expire_stale() == 1
    upload.refresh_from_db()
    assert upload.status == "expired" and "deadline" in upload.status_reason
    assert _multipart_uploads(upload) == []
    assert services.upload_expire_stale() == 0


def _multipart_uploads(upload):
    listed = aws.s3().list_multipart_uploads(Bucket=upload.bucket, Prefix=upload.key)
    return [u["UploadId"] for u in listed.get("Uploads", [])]


def test_threshold_is_a_setting(api, aws_resources, settings):
    settings.UPLOADER_MULTIPART_THRESHOLD = 20 * 1024 * 1024

    def start(size):
        body = {"filename": "a.zip", "content_type": "application/zip", "size": size}
        return api.post("/api/v1/uploads/", body, format="json").json()

    at = start(settings.UPLOADER_MULTIPART_THRESHOLD)
    assert "upload" in at and "multipart" not in at  # at the threshold: one PUT
    above = start(settings.UPLOADER_MULTIPART_THRESHOLD + 1)
    assert "multipart" in above and "upload" not in above


def test_a_multipart_start_over_the_quota_is_refused_and_leaves_no_multipart_upload(api, user, aws_resources, settings):
    settings.UPLOADER_USER_QUOTA = 50 * MiB
    response = api.post(
        "/api/v1/uploads/", {"filename": "a.zip", "content_type": "application/zip", "size": 60 * MiB}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (413, "quota_exceeded")
    assert not Upload.objects.exists()
    listed = aws.s3().list_multipart_uploads(Bucket=settings.UPLOADER_BUCKET, Prefix=f"uploads/{user.pk}/")
    assert listed.get("Uploads", []) == []  # what S3 was asked to create is aborted
    settings.UPLOADER_USER_QUOTA = 0  # no quota at all
    again = api.post(
        "/api/v1/uploads/", {"filename": "a.zip", "content_type": "application/zip", "size": 60 * MiB}, format="json"
    )
    assert again.status_code == 201


def test_deleting_a_pending_multipart_upload_aborts_it_and_a_second_delete_changes_nothing(api, started):
    upload = Upload.objects.get(pk=started["id"])
    assert api.delete(f"/api/v1/uploads/{upload.pk}/").status_code == 204
    listed = aws.s3().list_multipart_uploads(Bucket=upload.bucket, Prefix=upload.key)
    assert listed.get("Uploads", []) == []
    assert api.delete(f"/api/v1/uploads/{upload.pk}/").status_code == 404  # gone, as far as its owner can tell
    services.upload_delete(upload=upload)  # a second delete racing the first (an admin, say)
    upload.refresh_from_db()
    assert (upload.status, upload.version) == ("deleted", 2)
    assert list(UploadEvent.objects.filter(upload_id=upload.pk).order_by("id").values_list("action", flat=True)) == [
        "created",
        "deleted",
    ]


def test_open_parts_need_at_least_one_and_without_a_client_list_take_what_s3_holds():
    with pytest.raises(multipart.PartsError) as none:
        multipart.check_open_parts([], claimed=None, max_size=100 * MiB)
    assert none.value.code == "parts_missing"
    stored = _parts(3, 8 * MiB)  # listed out of order by the caller
    assert multipart.check_open_parts(stored, claimed=None, max_size=100 * MiB) == stored
