"""The upload page on a phone, in both languages: nothing wider than the screen, every control big
enough for a finger, Korean that breaks between words, long names cut in the middle with the
extension kept, the recording controls on the first screen, and no talk of dropping where nothing
can be dropped."""

import pytest
from django.conf import settings

from uploader.models import Upload

from ..factories import make_user
from ..helpers import log_in

pytestmark = pytest.mark.e2e

PHONES = {"iphone-13": (390, 844), "small-android": (360, 740)}
LONG_NAME = "2026-12-06 family dinner at grandmother's house in Busan, the whole table, very long name.jpg"

# What a finger must hit: every visible control, measured as laid out. Apple asks for 44 pt,
# WCAG 2.5.5 for 44 CSS px.
# WCAG 2.5.5 for 44 CSS px. A checkbox's target is its label (a tap on either toggles it).
SMALL_TARGETS = """() => [...document.querySelectorAll(
        'a[href], button, select, input:not([type=hidden]):not([hidden]), summary')]
    .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden'
                    && !el.closest('.visually-hidden, .skip'))
    .map((el) => ({ el, box: (['checkbox', 'radio'].includes(el.type) && el.labels?.[0] || el)
                              .getBoundingClientRect() }))
    .filter(({ box }) => box.height < 43.5 || box.width < 43.5)
    .map(({ el, box }) => `${el.outerHTML.slice(0, 90)} ${Math.round(box.width)}x${Math.round(box.height)}`)"""

# Text that a line break cut inside a word: an element whose every line holds part of one word.
OVERFLOW = "() => ({ page: document.scrollingElement.scrollWidth, screen: window.innerWidth })"


def _uploads(owner):
    common = {"owner": owner, "bucket": settings.UPLOADER_BUCKET, "expires_at": "2100-01-01T00:00:00Z"}
    Upload.objects.create(
        **common, key=f"uploads/{owner.pk}/a/x.jpg", original_filename=LONG_NAME, content_type="image/jpeg",
        size=123456, stored_size=123456, status="available", uploaded_at="2026-12-01T10:00:00Z",
        relative_path="holiday/day1",
    )  # fmt: skip
    Upload.objects.create(
        **common, key=f"uploads/{owner.pk}/b/x.pdf", original_filename="contract.pdf", content_type="application/pdf",
        size=10, status="rejected", status_reason="not a PDF",
    )  # fmt: skip
    Upload.objects.create(
        **common, key=f"uploads/{owner.pk}/c/x.csv", original_filename="numbers.csv", content_type="text/csv",
        size=2000, stored_size=2000, status="available", review_status="rejected", review_reason="Wrong month.",
        uploaded_at="2026-12-02T10:00:00Z",
    )  # fmt: skip
    Upload.objects.create(
        **common, key=f"uploads/{owner.pk}/d/x.mp4", original_filename="clip.mp4", content_type="video/mp4",
        size=5_000_000, status="pending",
    )  # fmt: skip


@pytest.fixture(params=[(phone, lang) for phone in PHONES for lang in ("en-US", "ko-KR")], ids=lambda p: "-".join(p))
def phone_page(browser, request):
    phone, locale = request.param
    width, height = PHONES[phone]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        locale=locale,
    )
    yield context.new_page()
    context.close()


def test_the_upload_page_fits_a_phone_and_every_control_takes_a_finger(phone_page, live_server, worker, tmp_path):
    page = phone_page
    for path in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        page.goto(f"{live_server.url}{path}")
        sizes = page.evaluate(OVERFLOW)
        assert sizes["page"] <= sizes["screen"], (path, sizes)
        assert page.evaluate(SMALL_TARGETS) == [], path
    page.goto(f"{live_server.url}/")
    assert page.evaluate(OVERFLOW)["page"] <= page.evaluate(OVERFLOW)["screen"]
    assert page.evaluate(SMALL_TARGETS) == [], "signed-out home"

    owner = make_user("ana", "pw-ana-12345")
    _uploads(owner)
    log_in(page, live_server.url, "ana", "pw-ana-12345")
    page.locator('[data-status="pending"]').wait_for()
    # A transfer card with a long name (refused: it stays on the page).
    refused = tmp_path / f"{'a very long name of a program someone chose by mistake ' * 2}setup.exe"
    refused.write_bytes(b"MZ" + b"\0" * 100)
    page.set_input_files("#file-input", str(refused))
    page.locator('li.transfer[data-state="refused"]').wait_for()

    sizes = page.evaluate(OVERFLOW)
    assert sizes["page"] <= sizes["screen"], sizes
    assert page.evaluate(SMALL_TARGETS) == []
    # Nothing talks of dropping: a phone cannot drop.
    assert not page.get_by_text("Drop files here").is_visible()
    assert not page.get_by_text("여기에 파일을 놓거나").is_visible()

    # Each upload's name, status, size and actions are on the screen, not off to the right.
    row = page.locator("[data-id]", has_text="contract.pdf")
    for part in (".filename", ".status", ".size"):
        box = row.locator(part).first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= sizes["screen"], part
    available = page.locator('[data-status="available"][data-review="unreviewed"]')
    for action in (available.locator(".download"), available.locator(".delete")):
        box = action.bounding_box()
        assert box["x"] + box["width"] <= sizes["screen"]

    # A long name is cut in the middle, its extension kept, the whole of it still there to read.
    name = available.locator(".filename .name")
    assert name.get_attribute("title") == LONG_NAME
    assert name.locator(".name-end").inner_text().endswith(".jpg")
    box = name.bounding_box()
    assert box["x"] + box["width"] <= sizes["screen"]

    # Korean breaks between words, never inside one; a status is one line.
    assert page.evaluate("getComputedStyle(document.body).wordBreak") == "keep-all"
    pill = available.locator(".status").first
    assert pill.evaluate("(el) => getComputedStyle(el).whiteSpace") == "nowrap"


def test_the_recording_controls_stay_on_a_phone_screen(phone_page, live_server, worker):
    page = phone_page
    make_user("ana", "pw-ana-12345")
    log_in(page, live_server.url, "ana", "pw-ana-12345")
    page.locator("button.record").first.click()
    page.locator("#recorder[data-state='recording']").wait_for(timeout=10_000)
    stop = page.locator(".recorder-stop")
    box = stop.bounding_box()
    height = page.evaluate("window.innerHeight")
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, (box, height)
    assert box["height"] >= 43.5
    assert page.evaluate(OVERFLOW)["page"] <= page.evaluate("window.innerWidth")
    page.locator(".recorder-discard").click()
