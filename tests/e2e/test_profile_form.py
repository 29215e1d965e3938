"""A host's own form with UploadFields (the site's profile page), in a real browser: the files go
straight to S3 through the app's engine, the form submits what the server signed for them."""

import pytest
from django.contrib.auth import get_user_model

from config.profiles.models import Profile
from uploader.domain import field_values
from uploader.models import Upload

from ..factories import heic_bytes, jpeg_bytes, make_user, upload_record
from ..helpers import log_in

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_a_profile_form_is_saved_with_an_avatar_and_a_document_sent_straight_to_s3(
    page, live_server, aws_resources, tmp_path
):
    user = make_user("petra", "pw-petra-12345")
    photo, cv = tmp_path / "me.jpg", tmp_path / "cv.pdf"
    photo.write_bytes(jpeg_bytes(300, 200))
    cv.write_bytes(PDF)
    puts = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    log_in(page, live_server.url, "petra", "pw-petra-12345")
    page.goto(f"{live_server.url}/profile/")
    avatar = page.locator('[data-destination="avatars"]')
    document = page.locator('[data-destination="documents"]')

    # The avatar's rules are the server's: a PDF is refused there, said in the field.
    avatar.locator("input[type=file]").set_input_files(str(cv))
    page.wait_for_selector('[data-destination="avatars"][data-state="failed"]')
    assert "PDFs are not accepted here" in avatar.locator(".state").inner_text()

    # One after the other: this test's tasks run eagerly in the live server's threads, and Celery's
    # eager mode keeps a process-wide flag that two at once can leave set.
    avatar.locator("input[type=file]").set_input_files(str(photo))
    page.wait_for_selector('[data-destination="avatars"][data-state="done"]', timeout=30_000)
    document.locator("input[type=file]").set_input_files(str(cv))
    page.wait_for_selector('[data-destination="documents"][data-state="done"]', timeout=30_000)
    assert avatar.locator("progress").evaluate("p => p.value === p.max")
    page.fill("input[name=display_name]", "Petra")
    page.click("form.profile button[type=submit]")
    page.wait_for_selector(".messages .success")

    profile = Profile.objects.get(user=user)
    assert profile.display_name == "Petra"
    assert (profile.avatar.original_filename, profile.avatar.destination) == ("me.jpg", "avatars")
    assert (profile.document.original_filename, profile.document.destination) == ("cv.pdf", "documents")
    assert profile.avatar.key.startswith(f"uploads/avatars/{user.pk}/")
    assert len(puts) == 2 and not any(url.startswith(live_server.url) for url in puts)  # straight to S3
    # Shown again, the form holds the current uploads (names and signed values), not empty fields.
    page.goto(f"{live_server.url}/profile/")
    assert page.locator('[data-destination="avatars"] .current').inner_text() == "me.jpg"
    assert page.locator('[data-destination="avatars"] input[type=hidden]').input_value()
    assert Upload.objects.filter(owner=user).count() == 2  # the refused PDF made no record


@pytest.mark.parametrize("case", ["another person's", "a document's", "a rejected one"])
def test_the_form_refuses_an_upload_that_is_not_the_submitters_or_not_for_it(page, live_server, aws_resources, case):
    """What a page could be made to submit (its hidden value replaced): the form says no and keeps
    what the profile had."""
    user, other = make_user("petra", "pw-petra-12345"), make_user("olaf", "pw-olaf-12345")
    upload = {
        "another person's": lambda: upload_record(other, "avatars"),
        "a document's": lambda: upload_record(user, "documents"),
        "a rejected one": lambda: upload_record(user, "avatars", status="rejected"),
    }[case]()
    log_in(page, live_server.url, "petra", "pw-petra-12345")
    page.goto(f"{live_server.url}/profile/")
    # Another person's upload by its id (its signed value goes to its owner only); the others signed.
    value = str(upload.pk) if case == "another person's" else field_values.sign(upload)
    page.locator('[data-destination="avatars"] input[type=hidden]').evaluate(
        "(input, value) => { input.value = value; }", value
    )
    page.click("form.profile button[type=submit]")
    error = page.locator(".errorlist").first
    error.wait_for()
    expected = {
        "another person's": "cannot be used here",
        "a document's": "made for documents, not avatars",
        "a rejected one": "was rejected",
    }[case]
    assert expected in error.inner_text()
    assert not Profile.objects.filter(user=user, avatar__isnull=False).exists()


def test_the_hosts_model_admin_uploads_through_the_same_widget(page, live_server, aws_resources, tmp_path):
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-12345")
    photo = tmp_path / "me.jpg"
    photo.write_bytes(jpeg_bytes(300, 200))
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw-root-12345")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/profiles/profile/add/")
    page.select_option("#id_user", index=1)
    page.locator('[data-destination="avatars"] input[type=file]').set_input_files(str(photo))
    page.wait_for_selector('[data-destination="avatars"][data-state="done"]', timeout=30_000)
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    assert Profile.objects.get().avatar.original_filename == "me.jpg"


def test_a_file_the_browser_gives_no_type_and_a_field_added_later_still_upload(page, live_server, aws_resources):
    """A HEIC photo whose type the browser does not know goes as what its extension says (the
    destination's own table, in the widget); a field put in the page after it loaded (as the
    admin's "add another" does) is mounted when it appears."""
    user = make_user("petra", "pw-petra-12345")
    log_in(page, live_server.url, "petra", "pw-petra-12345")
    page.goto(f"{live_server.url}/profile/")
    photo = {"name": "me.heic", "mimeType": "", "buffer": heic_bytes()}
    page.locator('[data-destination="avatars"] input[type=file]').set_input_files(photo)
    page.wait_for_selector('[data-destination="avatars"][data-state="done"]', timeout=30_000)
    assert Upload.objects.get(owner=user, original_filename="me.heic").content_type == "image/heic"

    page.evaluate(
        """() => {
          const copy = document.querySelector('[data-destination="avatars"]').cloneNode(true);
          copy.dataset.state = "empty";
          copy.querySelector("input[type=hidden]").name = "extra-avatar";
          copy.id = "added-later";
          document.querySelector("form.profile").append(copy);
        }"""
    )
    page.locator("#added-later input[type=file]").set_input_files(
        {"name": "later.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(40, 40)}
    )
    page.wait_for_selector('#added-later[data-state="done"]', timeout=30_000)
    assert page.locator("#added-later input[type=hidden]").input_value()
    assert Upload.objects.filter(owner=user, original_filename="later.jpg").exists()
