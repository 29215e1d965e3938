"""Per-purpose destinations and client metadata: the presign call, the batch, the Companion routes
and the CLI take a destination, the server and the worker apply its rules, the metadata is kept,
returned, mirrored and bounded."""

import io

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from PIL import Image

from uploader import aws
from uploader.aws import mirror
from uploader.domain import destinations
from uploader.models import Upload

from .factories import jpeg_bytes, make_user
from .helpers import api_start, put_object

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _send(api, body, django_capture_on_commit_callbacks, **start):
    """Start, PUT and complete one upload; its record as the API answers it afterwards."""
    started = api_start(api, size=len(body), **start)
    assert started.status_code == 201, started.json()
    data = started.json()
    assert put_object(data["upload"], body).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/uploads/{data['id']}/complete/").status_code == 202
    return api.get(f"/api/v1/uploads/{data['id']}/").json()


def test_a_destinations_rules_are_applied_at_presign(api, user):
    photo = api_start(api, destination="avatars")
    assert photo.status_code == 201, photo.json()
    assert photo.json()["destination"] == "avatars"
    assert photo.json()["key"].startswith(f"uploads/avatars/{user.pk}/")  # its own folder, then the owner's
    pdf = api_start(api, destination="avatars", filename="cv.pdf", content_type="application/pdf")
    assert (pdf.status_code, pdf.json()["code"]) == (415, "unsupported_type")
    large = api_start(api, destination="avatars", size=5 * 1024**2 + 1)
    assert (large.status_code, large.json()["code"]) == (413, "too_large")
    assert "5.0\xa0MB" in large.json()["detail"]  # the destination's limit, not the global one
    # The same PDF is fine where documents go, and the default destination is today's policy.
    assert api_start(api, destination="documents", filename="cv.pdf", content_type="application/pdf").status_code == 201
    plain = api_start(api)
    assert plain.json()["destination"] == "default" and plain.json()["key"].startswith(f"uploads/{user.pk}/")
    unknown = api_start(api, destination="../../etc")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "unknown_destination")
    assert Upload.objects.count() == 3


def test_who_may_upload_to_a_destination_is_its_permission_or_callable(api, user, settings):
    settings.UPLOADER_DESTINATIONS = {
        "contracts": {"types": ["application/pdf"], "permission": "uploader.review_upload"},
        "staff-only": {"allow": "tests.test_destinations.is_staff"},
    }
    refused = api_start(api, destination="contracts", filename="c.pdf", content_type="application/pdf")
    assert (refused.status_code, refused.json()["code"]) == (403, "destination_forbidden")
    assert (api_start(api, destination="staff-only").status_code) == 403
    user.is_staff = True
    user.save()
    assert api_start(api, destination="staff-only").status_code == 201
    batch = api.post(
        "/api/v1/uploads/batch/",
        {
            "uploads": [
                {"filename": "a.jpg", "content_type": "image/jpeg", "size": 10, "destination": "staff-only"},
                {"filename": "c.pdf", "content_type": "application/pdf", "size": 10, "destination": "contracts"},
            ]
        },
        format="json",
    )
    assert [item["status"] for item in batch.json()["results"]] == [201, 403]


def is_staff(user):
    return user.is_staff


@pytest.mark.parametrize(
    "rules, why",
    [
        ({"public": True}, "UPLOADER_ALLOW_PUBLIC"),  # fails closed: public needs the explicit switch
        ({"colour": "red"}, "unknown rule"),
        ({"key_prefix": "../x"}, "key_prefix"),
        ({"max_size": 0}, "max_size"),
        ({"release": "shred"}, "release"),
        ({"metadata": {"n": "complex"}}, "metadata"),
    ],
)
def test_a_mistaken_destination_is_a_configuration_error_not_a_surprise(rules, why):
    with override_settings(UPLOADER_DESTINATIONS={"bad": rules}), pytest.raises(ImproperlyConfigured, match=why):
        destinations.get("bad")


def test_metadata_is_kept_returned_and_mirrored(api, aws_resources, django_capture_on_commit_callbacks):
    metadata = {"caption": "호수에서 · at the lake", "ticket": 1234, "urgent": True, "score": 4.5, "none": None}
    record = _send(api, jpeg_bytes(), django_capture_on_commit_callbacks, metadata=metadata)
    assert record["status"] == "available" and record["metadata"] == metadata
    item = mirror.get(record["id"])
    assert item["destination"] == {"S": "default"}
    assert item["metadata"]["M"]["caption"] == {"S": metadata["caption"]}
    assert item["metadata"]["M"]["ticket"] == {"N": "1234"} and item["metadata"]["M"]["none"] == {"NULL": True}


@pytest.mark.parametrize(
    "metadata, why",
    [
        ([1, 2], "JSON object"),
        ({f"k{i}": i for i in range(17)}, "more than 16 keys"),
        ({"note": "x" * 3000}, "longer than 2048 bytes"),
        ({"nested": {"a": 1}}, "must be a string"),
        ({"1st": "x"}, "is not a key"),
        ({"bidi": "abc\u202edef"}, "control or text-direction"),
    ],
)
def test_metadata_is_bounded(api, metadata, why):
    response = api_start(api, metadata=metadata)
    if isinstance(metadata, list):  # refused by the request's shape before the policy
        assert response.status_code == 400 and "metadata" in response.json()["errors"]
        return
    assert (response.status_code, response.json()["code"]) == (400, "invalid_metadata")
    assert why in response.json()["detail"]
    assert not Upload.objects.exists()


def test_a_destination_that_declares_fields_takes_only_those_typed(api, settings):
    settings.UPLOADER_DESTINATIONS = {
        "tickets": {"metadata": {"ticket": {"type": "int", "required": True}, "note": {"max_length": 5}}}
    }
    cases = [
        ({"ticket": 7, "colour": "red"}, "colour not taken here"),
        ({"ticket": "7"}, "ticket must be of type int"),
        ({"ticket": True}, "ticket must be of type int"),
        ({"note": "hi"}, "ticket is required"),
        ({"ticket": 7, "note": "too long"}, "note is longer than 5"),
    ]
    for metadata, why in cases:
        response = api_start(api, destination="tickets", metadata=metadata)
        assert response.status_code == 400 and why in response.json()["detail"], (metadata, response.json())
    assert api_start(api, destination="tickets", metadata={"ticket": 7, "note": "hi"}).status_code == 201


def test_the_worker_judges_by_the_destinations_rules_as_they_are_now(
    api, aws_resources, settings, django_capture_on_commit_callbacks
):
    """Rules tightened between the presign and the bytes' arrival: the worker's verdict applies
    them (a destination removed from the settings takes nothing: it fails closed)."""
    settings.UPLOADER_DESTINATIONS = {"photos": {"types": ["image/jpeg", "image/png"]}}
    body = jpeg_bytes()
    started = api_start(api, destination="photos", size=len(body)).json()
    gone = api_start(api, destination="photos", size=len(body), filename="b.jpg").json()
    settings.UPLOADER_DESTINATIONS = {"photos": {"types": ["image/png"]}}
    for data in (started, gone):
        assert put_object(data["upload"], body).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/uploads/{started['id']}/complete/")
    settings.UPLOADER_DESTINATIONS = {}
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/uploads/{gone['id']}/complete/")
    for data in (started, gone):
        upload = Upload.objects.get(pk=data["id"])
        assert upload.status == "rejected", upload.status_reason
        assert "Type 'image/jpeg' is not accepted for photos." in upload.status_reason


def test_review_required_withholds_the_download_until_approved(
    api, user, aws_resources, django_capture_on_commit_callbacks
):
    from uploader import services

    record = _send(
        api,
        PDF,
        django_capture_on_commit_callbacks,
        destination="documents",
        filename="cv.pdf",
        content_type="application/pdf",
    )
    assert record["status"] == "available" and record["download_url"] is None
    assert api.get(f"/api/v1/uploads/{record['id']}/download/").status_code in (404, 409)
    reviewer = make_user("rita", "pw-rita-12345", is_staff=True, is_superuser=True)
    services.upload_review(upload=Upload.objects.get(pk=record["id"]), reviewer=reviewer, approve=True)
    assert api.get(f"/api/v1/uploads/{record['id']}/").json()["download_url"].startswith("http")


def test_a_public_destination_becomes_public_read_only_once_verified(
    api, aws_resources, settings, django_capture_on_commit_callbacks
):
    """Signed private, public-read once verified and scanned; where the bucket blocks public
    access (every new bucket's default) it stays private and the log says why."""
    settings.UPLOADER_ALLOW_PUBLIC = True
    settings.UPLOADER_DESTINATIONS = {"banners": {"types": ["image/jpeg"], "public": True}}
    s3, bucket, body = aws.s3(), aws_resources, jpeg_bytes()
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    blocked = _send(api, body, django_capture_on_commit_callbacks, destination="banners", filename="a.jpg")
    assert (blocked["status"], blocked["visibility"]) == ("available", "private")
    try:
        s3.delete_public_access_block(Bucket=bucket)
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
        )
        data = api_start(api, destination="banners", size=len(body)).json()
        assert "x-amz-acl" not in {h.lower() for h in data["upload"]["headers"]}
        assert put_object(data["upload"], body).status_code == 200
        anonymous = f"{settings.AWS_ENDPOINT_URL}/{bucket}/{data['key']}"
        assert requests.get(anonymous, timeout=10).status_code == 403  # not before the verdict
        with django_capture_on_commit_callbacks(execute=True):
            api.post(f"/api/v1/uploads/{data['id']}/complete/")
        upload = Upload.objects.get(pk=data["id"])
        assert (upload.status, upload.visibility) == ("available", "public-read")
        assert requests.get(anonymous, timeout=10).content == body
    finally:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=ownership)


def test_uppys_meta_chooses_the_destination_and_the_rest_is_metadata(api, user):
    created = api.post(
        "/api/v1/companion/s3/multipart",
        {
            "filename": "me.jpg",
            "type": "image/jpeg",
            "metadata": {"name": "me.jpg", "type": "image/jpeg", "destination": "avatars", "caption": "me"},
        },
        format="json",
    )
    assert created.status_code == 200, created.content
    upload = Upload.objects.get(key=created.json()["key"])
    assert (upload.destination, upload.metadata) == ("avatars", {"caption": "me"})
    params = api.get(
        "/api/v1/companion/s3/params",
        {"filename": "cv.pdf", "type": "application/pdf", "metadata[destination]": "avatars"},
    )
    assert params.status_code == 415, params.content  # the avatars' rules, from the query's meta


def test_a_destination_may_make_no_derivatives_and_another_its_own_thumbnail_size(
    api, aws_resources, settings, django_capture_on_commit_callbacks
):
    settings.UPLOADER_DERIVATIVES = True
    settings.UPLOADER_DESTINATIONS = {"raw": {"derivatives": False}, "small": {"thumbnail_size": 48}}
    raw = _send(api, jpeg_bytes(200, 100), django_capture_on_commit_callbacks, destination="raw")
    small = _send(api, jpeg_bytes(200, 100), django_capture_on_commit_callbacks, destination="small", filename="s.jpg")
    assert (raw["status"], raw["media_status"], raw["thumbnail_url"]) == ("available", "", None)
    assert small["media_status"] == "ready"
    thumbnail = requests.get(small["thumbnail_url"], timeout=10).content
    assert Image.open(io.BytesIO(thumbnail)).size == (48, 24)  # the destination's size, not 320
