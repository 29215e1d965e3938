"""`make screenshots`: the README's pictures of the upload page, in English and in Korean, with a
photo's thumbnail, a recorded video's poster and length, a sound, and a rejected file. Not part of
the suite (its name does not start with test_); run through pytest for the fixtures."""

import io
from pathlib import Path

import pytest
from PIL import Image

from ..factories import make_user, webm_audio, webm_video
from ..helpers import log_in

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = pytest.mark.e2e


def _sea_photo():
    """A 1600 x 1200 JPEG that reads as a picture in a 48-pixel box: sky over sea."""
    sky = Image.merge(
        "RGB",
        [Image.linear_gradient("L").resize((1600, 1200)).point(lambda v: 120 + v // 3)] * 2
        + [Image.new("L", (1600, 1200), 235)],
    )
    sea = Image.new("RGB", (1600, 520), (20, 90, 160))
    sky.paste(sea, (0, 680))
    out = io.BytesIO()
    sky.save(out, "JPEG", quality=85)
    return out.getvalue()


def test_take_screenshots(browser, live_server, start_worker, settings, tmp_path):
    settings.UPLOADER_DERIVATIVES = True
    start_worker(UPLOADER_DERIVATIVES="1")
    make_user("mina", "pw-mina-12345")
    files = {
        "바다 사진.jpg": _sea_photo(),
        "interview.webm": webm_video(seconds=75, width=640, height=360, streamed=True),
        "voice memo.weba": webm_audio(seconds=12),
        "invoice.pdf": b"MZ\x90\x00 not a PDF at all" * 40,
    }
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
    for locale, name in (("en-US", "upload-page-en.png"), ("ko-KR", "upload-page-ko.png")):
        context = browser.new_context(locale=locale, viewport={"width": 1100, "height": 760})
        page = context.new_page()
        log_in(page, live_server.url, "mina", "pw-mina-12345")
        if locale == "en-US":
            page.set_input_files("#file-input", [str(tmp_path / n) for n in files])
        page.wait_for_function(
            "() => document.querySelectorAll('tr[data-status=available] img.thumb').length === 2"
            " && document.querySelectorAll('tr[data-status=available] .duration').length === 2"
            " && document.querySelectorAll('tr[data-status=rejected]').length === 1",
            timeout=60_000,
        )
        page.wait_for_function("() => [...document.images].every((i) => i.complete)")
        page.screenshot(path=str(OUT / name), full_page=True)
        context.close()


def test_take_batch_screenshots(browser, live_server, start_worker, tmp_path):
    """A folder of photos on its way (the batch line, pause/cancel all, the transfers under way),
    in English and Korean."""
    from ..factories import jpeg_bytes
    from ..helpers import UploadThrottle

    start_worker()
    make_user("mina", "pw-mina-12345")
    for locale, name in (("en-US", "batch-en.png"), ("ko-KR", "batch-ko.png")):
        root = tmp_path / locale / "holiday"
        for n in range(60):
            folder = root / ("day1" if n % 2 else "day2")
            folder.mkdir(parents=True, exist_ok=True)
            photo = jpeg_bytes(40 + n, 30, (n * 4 % 256, 90, 160)) + locale.encode() + b"\0" * 200_000
            (folder / f"IMG_{n:04d}.jpg").write_bytes(photo)  # each run its own: none "already uploaded"
        (root / "setup.exe").write_bytes(b"MZ" + b"\0" * 100)
        context = browser.new_context(locale=locale, viewport={"width": 1100, "height": 900})
        page = context.new_page()
        log_in(page, live_server.url, "mina", "pw-mina-12345")
        throttle = UploadThrottle(page, 1_500_000)
        page.set_input_files("#folder-input", str(root))
        page.wait_for_function("() => Number(document.getElementById('batch').dataset.sent) >= 8", timeout=60_000)
        page.screenshot(path=str(OUT / name), full_page=False)
        throttle.lift()
        page.wait_for_function("() => document.getElementById('batch').dataset.state === 'done'", timeout=120_000)
        context.close()


def test_take_phone_screenshots(browser, live_server, start_worker, settings, tmp_path):
    """The upload page on a 390 x 844 phone, in English and Korean: the uploads as cards, a long
    name cut in the middle, a reviewer's rejection as the owner sees it."""
    from uploader.models import Upload

    settings.UPLOADER_DERIVATIVES = True
    start_worker(UPLOADER_DERIVATIVES="1")
    owner = make_user("mina", "pw-mina-12345")
    files = {
        "2026-12-06 가족 저녁 식사, 부산 할머니 댁, 아주 긴 이름.jpg": _sea_photo(),
        "voice memo.weba": webm_audio(seconds=12),
        "expenses-november.csv": b"date,amount\n2026-11-01,12.50\n",
    }
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
    (tmp_path / "setup.exe").write_bytes(b"MZ" + b"\0" * 100)
    for locale, name in (("en-US", "phone-en.png"), ("ko-KR", "phone-ko.png")):
        context = browser.new_context(
            locale=locale,
            viewport={"width": 390, "height": 1500},  # tall, not full_page: that capture drops the touch emulation
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
        )
        page = context.new_page()
        log_in(page, live_server.url, "mina", "pw-mina-12345")
        if locale == "en-US":
            page.set_input_files("#file-input", [str(tmp_path / n) for n in files])
            page.wait_for_function(
                "() => document.querySelectorAll('tr[data-status=available]').length === 3", timeout=60_000
            )
            Upload.objects.filter(owner=owner, content_type="text/csv").update(
                review_status="rejected", review_reason="This is last year's.", version=99
            )
        page.set_input_files("#file-input", str(tmp_path / "setup.exe"))
        page.wait_for_function(
            "() => document.querySelectorAll('tr[data-outcome=rejected]').length === 1"
            " && document.querySelectorAll('tr[data-status=available] img.thumb').length === 1",
            timeout=60_000,
        )
        page.wait_for_function("() => [...document.images].every((i) => i.complete)")
        page.screenshot(path=str(OUT / name))
        context.close()
