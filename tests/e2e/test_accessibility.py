"""Accessible: no serious or critical axe-core violation on the pages people land on, in either
language, and the uploader works from the keyboard alone with its progress announced."""

from pathlib import Path

import pytest
from django.conf import settings

from uploader.models import Upload

from ..factories import jpeg_bytes, make_user
from ..helpers import MiB, UploadThrottle, built_by_npm, log_in

pytestmark = pytest.mark.e2e
AXE = Path(__file__).parent / "npm" / "dist" / "axe.min.js"

RUN_AXE = """async () => {
    const { violations } = await axe.run(document, { resultTypes: ["violations"] });
    return violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                                    nodes: v.nodes.map((n) => n.target.join(" ")) }));
}"""


@pytest.fixture
def axe_page(browser, request):
    built_by_npm(AXE)
    # axe is injected as an inline script, which the site's CSP (rightly) forbids.
    context = browser.new_context(bypass_csp=True, locale=request.param)
    yield context.new_page()
    context.close()


def _serious_violations(page):
    page.add_script_tag(path=str(AXE))
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("axe_page", ["en-US", "ko-KR"], indirect=True)
def test_no_serious_violations_on_the_home_sign_in_and_sign_up_pages(axe_page, live_server, worker, tmp_path):
    page = axe_page
    for path in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        page.goto(f"{live_server.url}{path}")
        assert _serious_violations(page) == [], path

    owner = make_user("ana", "pw-ana-12345")
    Upload.objects.create(
        owner=owner,
        bucket=settings.UPLOADER_BUCKET,
        key=f"uploads/{owner.pk}/x/old.pdf",
        original_filename="old.pdf",
        content_type="application/pdf",
        size=10,
        status="rejected",
        status_reason="not a PDF",
        expires_at="2100-01-01T00:00:00Z",
    )
    log_in(page, live_server.url, "ana", "pw-ana-12345")
    photo = tmp_path / "a.jpg"
    photo.write_bytes(jpeg_bytes(20, 20))
    page.set_input_files("#file-input", str(photo))
    page.locator('tr[data-status="available"]').wait_for(timeout=30_000)
    page.locator('tr[data-status="rejected"]').wait_for()
    assert _serious_violations(page) == []  # with a transfer, a thumbnail, a rejection and its reason


def test_the_uploader_works_from_the_keyboard_and_announces_progress(page, live_server, worker, tmp_path):
    make_user("ana", "pw-ana-12345")
    log_in(page, live_server.url, "ana", "pw-ana-12345")
    page.evaluate("""() => {
        window.said = [];
        new MutationObserver(() => window.said.push(document.getElementById('announcer').textContent))
            .observe(document.getElementById('announcer'), { childList: true, characterData: true, subtree: true });
    }""")
    focused = []
    for _ in range(20):  # Tab through the page until the file chooser's button has the focus
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        if focused[-1] == "choose-files":
            break
    assert focused[-1] == "choose-files", focused
    assert focused[0] == "Skip to content"
    photo = tmp_path / "keyboard.jpg"
    photo.write_bytes(jpeg_bytes(24, 24) + b"\0" * (2 * MiB))
    UploadThrottle(page, MiB)  # long enough for progress to be told
    # Enter on the button opens the file chooser (the hidden input's click). Counted in the page,
    # not through Playwright's file-chooser interception, which can arm after the key press.
    page.evaluate("""() => {
        window.chooserOpened = 0;
        document.getElementById('file-input').addEventListener('click', () => window.chooserOpened++);
    }""")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.chooserOpened === 1")
    page.set_input_files("#file-input", str(photo))  # what the person picks in the dialog
    row = page.locator('tr[data-status="available"]')
    row.wait_for(timeout=30_000)
    # The verdict is announced just after the row is drawn: wait for it rather than look at once.
    page.wait_for_function("() => window.said.includes('keyboard.jpg: available')", timeout=10_000)
    said = page.evaluate("window.said")
    assert any("keyboard.jpg: 25% sent" in s for s in said), said
    assert any(s == "keyboard.jpg: sent" for s in said), said
    assert any(s == "keyboard.jpg: available" for s in said), said
    # Every control on the page has a name a screen reader can say.
    unnamed = page.evaluate("""() => [
        ...document.querySelectorAll('button, a, input:not([type=hidden]), select, progress')]
        .filter((el) => !el.hidden && !(el.getAttribute('aria-label') || el.textContent.trim() || el.labels?.length))
        .map((el) => el.outerHTML)""")
    assert unnamed == []
