"""Point 2 of the media issue: record from the page (MediaRecorder, WebM) with Chromium's fake
camera and microphone, upload through the page's own uploader, and see it `available` with the
poster and duration the worker made."""

import pytest

from uploader.models import Upload

from ..factories import make_user
from ..helpers import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def recording_page(page, live_server, start_worker, settings):
    settings.UPLOADER_DERIVATIVES = True
    start_worker(UPLOADER_DERIVATIVES="1")
    make_user("rita", "pw-rita-12345")
    log_in(page, live_server.url, "rita", "pw-rita-12345")
    return page


def _record(page, button, seconds):
    page.click(button)
    panel = page.locator("#recorder[data-state='recording']")
    panel.wait_for(timeout=10_000)
    page.wait_for_function(
        "s => document.querySelector('.recorder-elapsed').textContent === s", arg=f"0:0{seconds}", timeout=15_000
    )
    page.click(".recorder-stop")
    page.locator("#recorder").wait_for(state="hidden", timeout=10_000)


def test_a_video_recorded_in_the_page_is_uploaded_in_parts_and_gets_a_poster_and_its_length(recording_page, settings):
    page = recording_page
    settings.UPLOADER_MULTIPART_THRESHOLD = 64 * 1024  # a few seconds of video is "large" here
    page.reload()
    page.wait_for_selector("#uploader[data-ready='true']")
    _record(page, ".record-video", 3)

    row = page.locator('tr[data-status="available"]')
    row.wait_for(timeout=30_000)
    assert row.locator(".filename a").inner_text().startswith("video-")
    assert row.locator(".kind").get_attribute("title") == "video/webm"
    thumb = row.locator("img.thumb")
    thumb.wait_for(timeout=30_000)  # the poster frame, once the worker has made it
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(), timeout=10_000)
    assert "/derivatives/" in thumb.get_attribute("src")
    shown = row.locator(".duration").inner_text()
    assert shown in ("0:02", "0:03", "0:04"), shown

    upload = Upload.objects.get(owner__username="rita")
    assert (upload.content_type, upload.sniffed_type, upload.status) == ("video/webm", "video/webm", "available")
    assert upload.is_multipart and upload.original_filename.endswith(".webm")
    assert upload.media_status == "ready" and upload.codec in ("vp8", "vp9")
    assert 2 <= upload.duration <= 4.5 and upload.width and upload.height


def test_sound_recorded_in_the_page_is_uploaded_with_its_length(recording_page):
    page = recording_page
    page.wait_for_selector("#uploader[data-ready='true']")
    _record(page, ".record-audio", 2)
    row = page.locator('tr[data-status="available"]')
    row.wait_for(timeout=30_000)
    assert row.locator(".kind").get_attribute("title") == "audio/webm"
    page.wait_for_function("() => document.querySelector('tr[data-status=available] .duration')", timeout=30_000)
    upload = Upload.objects.get(owner__username="rita")
    assert (upload.content_type, upload.media_status, upload.codec) == ("audio/webm", "ready", "opus")
    assert 1 <= upload.duration <= 3.5 and not upload.thumbnail
    assert row.locator("img.thumb").count() == 0


def test_a_recording_can_be_discarded_and_nothing_is_uploaded(page, live_server):
    make_user("rita", "pw-rita-12345")  # no worker: nothing may reach one
    log_in(page, live_server.url, "rita", "pw-rita-12345")
    page.click(".record-audio")
    page.locator("#recorder[data-state='recording']").wait_for(timeout=10_000)
    page.click(".recorder-discard")
    page.locator("#recorder").wait_for(state="hidden", timeout=10_000)
    page.wait_for_timeout(500)
    assert page.locator("li.transfer").count() == 0
    assert not Upload.objects.filter(owner__username="rita").exists()


def test_no_record_button_where_the_server_accepts_nothing_recordable(page, live_server, settings):
    settings.UPLOADER_ALLOWED_TYPES = ["image/jpeg", "application/pdf"]
    make_user("rita", "pw-rita-12345")
    log_in(page, live_server.url, "rita", "pw-rita-12345")
    assert page.locator("#choose-files").is_visible()
    assert page.locator("button.record").count() == 0
