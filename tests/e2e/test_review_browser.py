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


def _sign_in_as_reviewer(page, base_url, name="rita"):
    from django.contrib.auth.models import Group

    reviewer = make_user(name, f"pw-{name}-12345", is_staff=True)
    reviewer.groups.add(Group.objects.get(name="Reviewers"))
    page.goto(f"{base_url}/admin/login/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", f"pw-{name}-12345")
    page.click("input[type=submit]")
    return reviewer


def test_a_reviewer_clears_a_queue_of_ten_with_one_action_each(browser, live_server, transactional_db, aws_resources):
    """The queue gives the oldest unreviewed upload first; Approve (a key or a click), Reject with a
    reason (Enter), each lands on the next; a skipped one comes back at the end; an upload the
    system rejected is never offered for approval; the history is the audit trail."""
    owner = make_user("olga", "pw-olga-12345")
    uploads = [available_upload(owner, f"photo-{n:02}.jpg") for n in range(10)]
    system_rejected = Upload.objects.create(
        owner=owner, bucket=uploads[0].bucket, key=f"uploads/{owner.pk}/x/fake.pdf", original_filename="fake.pdf",
        content_type="application/pdf", size=10, status="rejected", status_reason="not a PDF",
        expires_at="2100-01-01T00:00:00Z",
    )  # fmt: skip
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    reviewer = _sign_in_as_reviewer(page, live_server.url)

    # The list's key columns fit 1280 px with no sideways scrolling; the queue is one click away.
    page.goto(f"{live_server.url}/admin/uploader/upload/")
    assert page.evaluate(
        "() => { const r = document.querySelector('.results'); return r.scrollWidth <= r.clientWidth }"
    )
    for column in ("column-status", "column-review_status", "column-created_at"):
        box = page.locator(f"th.{column}").bounding_box()
        assert box and box["x"] + box["width"] <= 1280, column
    page.click("a.review-queue-link")

    def current():
        page.locator("#review-actions[data-queue]").wait_for()
        return page.locator("#content h2").first.inner_text(), page.url

    seen = []
    for n in range(10):
        _, url = current()
        upload_id = url.split("/upload/")[1].split("/")[0]
        seen.append(upload_id)
        waiting = 10 if n == 0 else 10 - (n - 1)  # the skipped one still waits
        assert f" {waiting} " in page.locator("#review-actions h2").inner_text()
        if n == 0:  # skipped: it comes back after the others
            page.keyboard.press("n")
        elif n == 3:
            page.keyboard.press("r")
            page.keyboard.type("Out of focus.")
            page.keyboard.press("Enter")
        elif n % 2:
            page.keyboard.press("a")
        else:
            page.click("#approve-upload")
        page.wait_for_url(lambda u, left=url: u != left)
    # The skipped one is last, then the queue is empty.
    _, url = current()
    assert seen[0] in url
    page.keyboard.press("a")
    page.locator("ul.messagelist", has_text="Nothing left to review").wait_for()

    # Oldest first, every one decided once, by this reviewer.
    assert seen == [str(u.pk) for u in uploads][: len(seen)]
    decided = {str(u.pk): (u.review_status, u.review_reason) for u in Upload.objects.filter(owner=owner)}
    assert sorted(v for k, v in decided.items() if k != str(system_rejected.pk)) == sorted(
        [("approved", "")] * 9 + [("rejected", "Out of focus.")]
    )
    assert (
        not Upload.objects.filter(reviewed_by=reviewer)
        .exclude(review_status="unreviewed")
        .filter(pk=system_rejected.pk)
        .exists()
    )

    # A system-rejected upload: no Approve, no Reject.
    page.goto(f"{live_server.url}/admin/uploader/upload/{system_rejected.pk}/change/")
    assert page.locator("#approve-upload").count() == 0 and page.locator("#reject-upload").count() == 0
    # History: the audit trail, upload by upload; events name their upload.
    page.goto(f"{live_server.url}/admin/uploader/upload/{uploads[3].pk}/history/")
    trail = page.locator("#change-history").inner_text()
    assert "review_rejected" in trail and "rita" in trail and "Out of focus." in trail
    page.goto(f"{live_server.url}/admin/uploader/uploadevent/")
    assert page.locator("#result_list a", has_text="photo-03.jpg").count() >= 1
    context.close()
