"""A reviewer in the admin: open an upload, see its preview, approve it; the owner sees it."""

import pytest

from uploader.models import Upload

from ..factories import make_user
from ..helpers import log_in
from ..test_admin import available_upload

pytestmark = pytest.mark.e2e


def test_a_reviewer_approves_an_upload_and_the_owner_sees_it(
    browser, live_server, transactional_db, aws_resources, request
):
    from django.contrib.auth.models import Group

    owner = make_user("olga", "pw-olga-12345")
    upload = available_upload(owner, "sunset.jpg")
    reviewer = make_user("rita", "pw-rita-12345", is_staff=True)
    reviewer.groups.add(Group.objects.get(name="Reviewers"))

    staff_context, owner_context = browser.new_context(), browser.new_context()
    request.addfinalizer(staff_context.close)
    request.addfinalizer(owner_context.close)
    staff = staff_context.new_page()
    staff.goto(f"{live_server.url}/admin/login/")
    staff.fill("input[name=username]", "rita")
    staff.fill("input[name=password]", "pw-rita-12345")
    staff.click("input[type=submit]")
    staff.goto(f"{live_server.url}/admin/uploader/upload/?review_status__exact=unreviewed")
    staff.click("text=sunset.jpg")
    preview = staff.locator("img.upload-preview")
    preview.wait_for()
    assert preview.evaluate("img => img.complete && img.naturalWidth") == 120
    staff.click("#approve-upload")
    staff.locator("ul.messagelist").wait_for()
    assert "Approve: done." in staff.locator("ul.messagelist").inner_text()
    upload.refresh_from_db()
    assert (upload.review_status, upload.reviewed_by_id) == ("approved", reviewer.pk)

    mine = owner_context.new_page()
    log_in(mine, live_server.url, "olga", "pw-olga-12345")
    row = mine.locator(f'tr[data-id="{upload.pk}"]')
    row.wait_for()
    assert row.get_attribute("data-review") == "approved"
    assert "approved" in row.locator(".review").inner_text()
    assert Upload.objects.get(pk=upload.pk).review_status == "approved"
