"""An upload on a host's own model (the site's Profile): the ModelForm, the admin and a DRF
serializer take only an upload of the right destination, of the person's own, not refused; an
upload the host object lets go is released by its destination's rule."""

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from rest_framework.test import APIClient

from config.profiles.forms import ProfileForm
from config.profiles.models import Profile
from uploader import services
from uploader.domain import field_values, tasknames
from uploader.fields import UploadField
from uploader.models import OutboxMessage, Upload

from .factories import jpeg_bytes, make_user, upload_record
from .helpers import put_object

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _uploaded(owner, destination="avatars", name="me.jpg", content_type="image/jpeg", body=None):
    """An upload sent to S3 and verified, as the API would make it."""
    body = body or jpeg_bytes(120, 80)
    started = services.upload_start(
        owner=owner, filename=name, content_type=content_type, size=len(body), destination=destination
    )
    assert put_object(started.instruction["upload"], body).status_code == 200
    return services.upload_verify(upload_id=started.upload.pk)


def test_the_model_form_takes_its_owners_upload_of_its_destination(user, aws_resources):
    avatar = _uploaded(user)
    form = ProfileForm({"display_name": "Alice", "avatar": field_values.sign(avatar)})
    assert form.is_valid(), form.errors
    profile = form.save(commit=False)
    profile.user = user
    profile.save()
    profile.refresh_from_db()
    assert profile.avatar == avatar and profile.avatar.destination == "avatars"
    assert profile.avatar_url.startswith("http") and "X-Amz-Signature=" in profile.avatar_url
    assert Profile(user=user).document_url is None
    # Edited again without a new file: the current upload is kept.
    again = ProfileForm(ProfileForm(instance=profile).initial | {"display_name": "A."}, instance=profile)
    again.data = {"display_name": "A.", "avatar": again["avatar"].value() and field_values.sign(avatar)}
    assert again.is_valid(), again.errors
    assert again.save().avatar == avatar


@pytest.mark.parametrize(
    "case, message",
    [
        ("raw id", "cannot be used here"),  # a bare id proves nothing: anyone may have learned it
        ("tampered", "cannot be used here"),
        ("a value naming another owner", "cannot be used here"),
        ("wrong destination", "made for documents, not avatars"),
        ("rejected", "was rejected"),
        ("expired", "was expired"),
    ],
)
def test_the_model_form_refuses_what_is_not_the_submitters_or_not_for_it(user, other_user, case, message):
    mine, theirs = upload_record(user), upload_record(other_user)
    value = {
        "raw id": str(mine.pk),
        "tampered": field_values.sign(mine)[:-2] + "xx",
        "a value naming another owner": signing.dumps(
            [str(theirs.pk), user.pk, "avatars"], salt=field_values.SALT, compress=False
        ),
        "wrong destination": field_values.sign(upload_record(user, destination="documents")),
        "rejected": field_values.sign(upload_record(user, status="rejected")),
        "expired": field_values.sign(upload_record(user, status="expired")),
    }[case]
    form = ProfileForm({"avatar": value})
    assert not form.is_valid()
    assert message in str(form.errors["avatar"])


def test_a_reviewers_rejection_makes_an_upload_unusable_too(user):
    upload = upload_record(user)
    upload.review_status = Upload.ReviewStatus.REJECTED
    upload.save()
    assert not ProfileForm({"avatar": field_values.sign(upload)}).is_valid()


def test_the_model_form_renders_the_widget_that_uploads_straight_to_s3(user):
    avatar = upload_record(user)
    html = ProfileForm(instance=Profile(user=user, avatar=avatar)).as_div()
    assert 'data-uploader-field data-api="/api/v1/uploads/" data-destination="avatars"' in html
    assert f'value="{field_values.sign(avatar).split(":")[0]}:' in html  # the current one, signed
    assert 'accept="image/jpeg,' in html and "application/pdf" not in html.split('data-destination="documents"')[0]
    assert "uploader/field.js" in html and 'type="file"' in html


def test_the_hosts_model_admin_gets_the_widget_without_extra_code(client, aws_resources):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(root)
    avatar = _uploaded(root)
    page = client.get("/admin/profiles/profile/add/").content.decode()
    assert 'data-destination="avatars"' in page and 'data-destination="documents"' in page
    assert 'data-model-ref="upload"' not in page  # not the foreign key's select of ids and its links
    response = client.post(
        "/admin/profiles/profile/add/", {"user": root.pk, "display_name": "Root", "avatar": field_values.sign(avatar)}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Profile.objects.get(user=root).avatar == avatar


def test_the_serializer_field_takes_an_own_upload_of_its_destination(user, other_user, aws_resources):
    api = APIClient()
    api.force_authenticate(user)
    avatar = _uploaded(user)
    saved = api.patch("/profile/api/", {"avatar": str(avatar.pk)}, format="json")
    assert saved.status_code == 200, saved.json()
    assert saved.json()["avatar"]["id"] == str(avatar.pk) and saved.json()["avatar"]["destination"] == "avatars"
    assert saved.json()["avatar"]["download_url"].startswith("http")  # read: the upload as the API shows it
    assert Profile.objects.get(user=user).avatar == avatar
    refusals = {
        "theirs": (str(upload_record(other_user).pk), "You have no upload"),  # as if it did not exist
        "document": (str(upload_record(user, destination="documents").pk), "made for documents, not avatars"),
        "rejected": (str(upload_record(user, status="rejected").pk), "was rejected"),
        "not an id": ("../../x", "is a UUID"),
    }
    for case, (value, message) in refusals.items():
        response = api.patch("/profile/api/", {"avatar": value}, format="json")
        assert response.status_code == 400, case
        assert message in str(response.json()), (case, response.json())
    assert Profile.objects.get(user=user).avatar == avatar


def test_a_replaced_or_deleted_hosts_upload_is_released_by_its_destinations_rule(
    user, aws_resources, django_capture_on_commit_callbacks
):
    """Avatars say `release: delete`: the avatar a profile lets go is deleted (object and
    record), unless another UploadField holds it; documents keep theirs."""
    first, second = _uploaded(user), _uploaded(user, name="me2.jpg")
    document = _uploaded(user, destination="documents", name="cv.pdf", content_type="application/pdf", body=PDF)
    with django_capture_on_commit_callbacks(execute=True):
        profile = Profile.objects.create(user=user, avatar=first, document=document)
    with django_capture_on_commit_callbacks(execute=True):
        profile.avatar = second
        profile.save()
    first.refresh_from_db()
    assert first.status == "deleted"
    assert not OutboxMessage.objects.filter(task=tasknames.RELEASE).exists()
    # The same upload on another host object as well: letting go of it in one keeps it.
    other = Profile.objects.create(user=make_user("carl", "pw-carl-12345"), avatar=second)
    with django_capture_on_commit_callbacks(execute=True):
        profile.delete()
    second.refresh_from_db()
    document.refresh_from_db()
    assert (second.status, document.status) == ("available", "available")
    with django_capture_on_commit_callbacks(execute=True):
        other.delete()
    second.refresh_from_db()
    assert second.status == "deleted"


def test_the_field_says_its_destination_in_migrations():
    field = Profile._meta.get_field("avatar")
    _name, path, args, kwargs = field.deconstruct()
    assert path == "uploader.fields.UploadField"
    assert kwargs["destination"] == "avatars" and kwargs["to"] == "uploader.upload"
    rebuilt = UploadField(*args, **kwargs)
    assert rebuilt.destination == "avatars" and rebuilt.null


def test_the_upload_admin_shows_the_destination_and_the_metadata_escaped(client, user):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(root)
    upload = upload_record(user)
    upload.metadata = {"caption": "<b>호수</b>", "ticket": 7}
    upload.save()
    page = client.get(f"/admin/uploader/upload/{upload.pk}/change/").content.decode()
    assert "<code>caption</code>: &quot;&lt;b&gt;호수&lt;/b&gt;&quot;" in page and "<code>ticket</code>: 7" in page
    assert "avatars" in page
    listing = client.get("/admin/uploader/upload/?destination=avatars").content.decode()
    assert "x.jpg" in listing and client.get("/admin/uploader/upload/?destination=documents").status_code == 200
