"""A person in a real browser: sign in, upload, watch the records settle."""

import time

import pytest

from uploader import aws
from uploader.aws import mirror
from uploader.models import Upload

from ..factories import jpeg_bytes, make_user
from ..helpers import log_in

pytestmark = pytest.mark.e2e


def test_upload_a_jpeg_and_a_fake_one_from_the_browser(page, live_server, start_worker, settings, tmp_path):
    settings.UPLOADER_DERIVATIVES = True
    start_worker(UPLOADER_DERIVATIVES="1")
    user = make_user("carol", "pw-carol-123")
    real = tmp_path / "holiday photo.jpg"
    real.write_bytes(jpeg_bytes(1280, 960))
    fake = tmp_path / "not-really.jpg"
    fake.write_bytes(b"MZ\x90\x00 this is a program, not a picture" * 20)
    s3_requests = []
    page.on("request", lambda r: s3_requests.append(r) if r.method == "PUT" else None)

    log_in(page, live_server.url, "carol", "pw-carol-123")
    page.set_input_files("#file-input", [str(real), str(fake)])

    available = page.locator('tr[data-status="available"]')
    rejected = page.locator('tr[data-status="rejected"]')
    available.wait_for(timeout=30_000)
    rejected.wait_for(timeout=30_000)
    assert available.locator(".filename").inner_text() == "holiday photo.jpg"
    assert "not-really.jpg" in rejected.inner_text()
    # The owner reads kinds, with the types beside them for whoever needs them.
    reason = rejected.locator(".reason").inner_text()
    assert "Photo (image/jpeg)" in reason and "Program (application/x-msdownload)" in reason
    # The worker's 320-pixel WebP, not the 1280-pixel original, through a short-lived presigned GET.
    thumb = available.locator("img.thumb")
    thumb.wait_for(timeout=30_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(), timeout=10_000)
    assert thumb.evaluate("img => img.naturalWidth") == 320
    assert "/derivatives/" in thumb.get_attribute("src") and "X-Amz-Signature=" in thumb.get_attribute("src")
    # Both transfers ran to the end of their progress bars.
    for transfer in page.locator("li.transfer").all():
        assert transfer.get_attribute("data-state") == "sent"
        assert transfer.locator("progress").evaluate("p => p.value === p.max && p.max > 0")
    # The bytes went straight to the store, not through Django.
    assert len(s3_requests) == 2
    assert all(not r.url.startswith(live_server.url) for r in s3_requests)

    good = Upload.objects.get(owner=user, original_filename="holiday photo.jpg")
    bad = Upload.objects.get(owner=user, original_filename="not-really.jpg")
    assert (good.status, good.stored_size) == ("available", real.stat().st_size)
    assert bad.status == "rejected"
    aws.s3().head_object(Bucket=good.bucket, Key=good.key)
    # The mirror is written by a task after the row commits: it catches up within moments.
    for upload in (good, bad):
        expected = {"S": upload.status}, {"N": str(upload.version)}
        deadline = time.monotonic() + 20
        while (item := mirror.get(upload.id)) is None or (item["status"], item["version"]) != expected:
            assert time.monotonic() < deadline, f"the mirror never reached {expected}: {item}"
            time.sleep(0.2)
