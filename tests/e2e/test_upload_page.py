"""The upload page as a person uses it: pause and resume, a lost connection that comes back,
delete, download, a long list, a status filter, checks before any request, in Korean or English."""

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from uploader import aws
from uploader.models import Upload

from ..factories import jpeg_bytes, make_user
from ..helpers import MiB, UploadThrottle, log_in, part_number, sparse_file, wait_for

pytestmark = pytest.mark.e2e


class StoreTraffic:
    """The PUTs the page sends to the store, and how each ended."""

    def __init__(self, page, base_url):
        self.started, self.finished, self.failed = [], [], []
        ours = lambda r: r.method == "PUT" and not r.url.startswith(base_url)  # noqa: E731
        page.on("request", lambda r: self.started.append(r.url) if ours(r) else None)
        page.on("requestfinished", lambda r: self.finished.append(r.url) if ours(r) else None)
        page.on("requestfailed", lambda r: self.failed.append(r.url) if ours(r) else None)


def _state(page):
    return page.locator("li.transfer").first.get_attribute("data-state")


def test_pausing_a_multipart_upload_keeps_the_parts_already_sent(page, live_server, worker, tmp_path):
    make_user("pia", "pw-pia-12345")
    big = sparse_file(tmp_path, "film.zip", 64 * MiB)  # eight parts of 8 MiB: some still queued at the pause
    log_in(page, live_server.url, "pia", "pw-pia-12345")
    traffic = StoreTraffic(page, live_server.url)
    throttle = UploadThrottle(page, 6 * MiB)
    page.set_input_files("#file-input", str(big))
    page.wait_for_function("() => document.querySelector('li.transfer')?.dataset.state === 'uploading'")
    wait_for(lambda: traffic.finished, page=page, what="a first part in the store")

    page.locator("li.transfer button.pause").click()
    assert _state(page) == "paused"
    resume = page.locator("li.transfer button.resume")
    assert resume.is_visible() and resume.evaluate("b => b === document.activeElement")  # focus moved to it
    page.wait_for_function("() => document.getElementById('announcer').textContent.includes('paused')")
    done_before_pause = set(traffic.finished)
    sent_while_paused = len(traffic.started)
    throttle.lift()
    page.wait_for_timeout(1000)  # an absence can only be watched for a while
    assert len(traffic.started) == sent_while_paused  # nothing went out while paused
    resume.click()
    page.locator('tr[data-status="available"]').wait_for(timeout=60_000)
    upload = Upload.objects.get(original_filename="film.zip")
    assert (upload.status, upload.stored_size) == ("available", big.stat().st_size)
    # The parts S3 held before the pause were not sent again; every part was sent, none finished
    # twice (a part S3 stored as Pause cut its request counts as sent, and is skipped on resume).
    after = traffic.started[sent_while_paused:]
    assert after and not {part_number(u) for u in after} & {part_number(u) for u in done_before_pause}
    assert sorted({part_number(u) for u in traffic.started}) == [1, 2, 3, 4, 5, 6, 7, 8]
    finished = [part_number(u) for u in traffic.finished]
    assert len(finished) == len(set(finished))


def test_a_single_put_paused_and_resumed_starts_that_put_again(page, live_server, worker, tmp_path):
    make_user("pia", "pw-pia-12345")
    photo = tmp_path / "큰 사진.jpg"
    photo.write_bytes(jpeg_bytes(64, 48) + b"\0" * (3 * MiB))
    log_in(page, live_server.url, "pia", "pw-pia-12345")
    traffic = StoreTraffic(page, live_server.url)
    throttle = UploadThrottle(page, 512 * 1024)
    page.set_input_files("#file-input", str(photo))
    page.wait_for_function("() => document.querySelector('li.transfer progress')?.value > 0")
    page.locator("li.transfer button.pause").click()
    assert _state(page) == "paused"
    throttle.lift()
    page.locator("li.transfer button.resume").click()
    page.locator('tr[data-status="available"]').wait_for(timeout=30_000)
    assert len(traffic.started) == 2 and len(traffic.finished) == 1
    assert Upload.objects.get().stored_size == photo.stat().st_size


def test_a_part_stored_just_as_pause_aborts_its_request_is_not_sent_again(page, live_server, worker, tmp_path):
    make_user("pia", "pw-pia-12345")
    big = sparse_file(tmp_path, "scan.zip", 24 * MiB)  # three parts of 8 MiB
    log_in(page, live_server.url, "pia", "pw-pia-12345")
    traffic = StoreTraffic(page, live_server.url)
    landed = []

    def store_first_part_and_keep_the_answer(route):
        if part_number(route.request.url) == 1 and not landed:
            landed.append(route.fetch())  # S3 stores part 1; the page never hears so (no fulfil)
        else:
            route.continue_()

    page.route(lambda url: part_number(url) > 0, store_first_part_and_keep_the_answer)
    page.set_input_files("#file-input", str(big))
    wait_for(lambda: landed, page=page, what="part 1 stored by S3")
    assert landed[0].status == 200
    page.locator("li.transfer button.pause").click()  # aborts part 1's request, which S3 already holds
    page.locator("li.transfer button.resume").click()
    page.locator('tr[data-status="available"]').wait_for(timeout=60_000)
    assert Upload.objects.get().stored_size == big.stat().st_size
    # After the resume the page asked which parts S3 holds, and did not send part 1 again.
    assert [part_number(u) for u in traffic.started].count(1) == 1


def test_a_lost_connection_resumes_by_itself_when_it_returns(page, live_server, worker, tmp_path):
    make_user("pia", "pw-pia-12345")
    big = sparse_file(tmp_path, "trip.zip", 64 * MiB)  # eight parts, four at a time
    log_in(page, live_server.url, "pia", "pw-pia-12345")
    # Parts 5 to 8 wait for the first four to finish: they are held at the network's edge, where
    # the connection drops (held, then refused), so the drop cannot come after the last part left.
    held, dropped = [], []

    def edge(route):
        if dropped:
            route.abort("internetdisconnected")
        else:
            held.append(route)

    later = lambda url: part_number(url) > 4  # noqa: E731
    page.route(later, edge)
    page.set_input_files("#file-input", str(big))
    wait_for(lambda: held, page=page, what="a fifth part on its way")
    page.context.set_offline(True)
    dropped.append(True)
    for route in held:
        route.abort("internetdisconnected")
    page.wait_for_function("() => document.querySelector('li.transfer').dataset.state === 'offline'", timeout=60_000)
    assert "waiting for the connection" in page.locator("li.transfer .state").inner_text()
    page.unroute(later, edge)
    page.context.set_offline(False)  # the browser's `online` event: nobody clicks anything
    page.locator('tr[data-status="available"]').wait_for(timeout=60_000)
    assert Upload.objects.get().stored_size == big.stat().st_size


def _bare(owner, name, status, minutes_ago, **extra):
    return Upload(
        owner=owner,
        bucket="uploads-test",
        key=f"uploads/{owner.pk}/{minutes_ago}/{name}",
        original_filename=name,
        content_type="application/pdf",
        size=1000 + minutes_ago,
        status=status,
        created_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
        expires_at=timezone.now() + dt.timedelta(hours=1),
        **extra,
    )


def test_the_list_loads_more_as_one_scrolls_and_filters_by_status(page, live_server, aws_resources):
    owner = make_user("lee", "pw-lee-12345")
    statuses = ["available", "rejected", "expired"]
    Upload.objects.bulk_create(
        [
            _bare(
                owner, f"doc-{i:03}.pdf", statuses[i % 3], i, **({"status_reason": "not a PDF"} if i % 3 == 1 else {})
            )
            for i in range(120)
        ]
    )
    log_in(page, live_server.url, "lee", "pw-lee-12345")
    rows = page.locator("#upload-rows tr[data-id]")
    page.wait_for_function("() => document.querySelectorAll('#upload-rows tr[data-id]').length === 50")
    assert page.locator("#load-more").is_visible()
    page.locator("#list-end").scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelectorAll('#upload-rows tr[data-id]').length === 100")
    page.locator("#load-more").click()  # the button does the same, for keyboards
    page.wait_for_function("() => document.querySelectorAll('#upload-rows tr[data-id]').length === 120")
    names = [n.strip() for n in rows.locator(".filename").all_inner_texts()]
    assert names == [f"doc-{i:03}.pdf" for i in range(120)]  # newest first, none twice
    assert page.locator("#load-more").is_hidden()

    page.select_option("#status-filter", "rejected")
    page.wait_for_function("""() => {
        const rows = [...document.querySelectorAll('#upload-rows tr[data-id]')];
        return rows.length === 40 && rows.every(r => r.dataset.status === 'rejected');
    }""")
    assert set(rows.locator(".reason").all_inner_texts()) == {"not a PDF"}  # the reason is shown
    page.select_option("#status-filter", "pending")
    page.wait_for_function("() => document.querySelector('#upload-rows tr.empty')")


def test_delete_asks_first_then_removes_the_upload_and_its_object(page, live_server, worker, tmp_path):
    user = make_user("dora", "pw-dora-12345")
    photo = tmp_path / "keep-or-not.jpg"
    photo.write_bytes(jpeg_bytes(32, 32))
    log_in(page, live_server.url, "dora", "pw-dora-12345")
    page.set_input_files("#file-input", str(photo))
    row = page.locator('tr[data-status="available"]')
    row.wait_for(timeout=30_000)
    upload = Upload.objects.get(owner=user)
    questions = []

    page.once("dialog", lambda d: (questions.append(d.message), d.dismiss()))
    row.locator("button.delete").click()
    assert "keep-or-not.jpg" in questions[0]
    assert row.is_visible() and Upload.objects.get(pk=upload.pk).status == "available"

    page.once("dialog", lambda d: d.accept())
    row.locator("button.delete").click()
    row.wait_for(state="detached")
    assert Upload.objects.get(pk=upload.pk).status == "deleted"
    with pytest.raises(aws.s3().exceptions.ClientError):
        aws.s3().head_object(Bucket=upload.bucket, Key=upload.key)


def test_download_saves_the_file_under_its_name(page, live_server, worker, tmp_path):
    make_user("dora", "pw-dora-12345")
    photo = tmp_path / "여름 바다.jpg"
    photo.write_bytes(jpeg_bytes(40, 30))
    log_in(page, live_server.url, "dora", "pw-dora-12345")
    page.set_input_files("#file-input", str(photo))
    row = page.locator('tr[data-status="available"]')
    row.wait_for(timeout=30_000)
    with page.expect_download() as download:
        row.locator("a.download").click()
    assert download.value.suggested_filename == "여름 바다.jpg"
    assert Path(download.value.path()).read_bytes() == photo.read_bytes()


def test_type_and_size_are_checked_before_any_request(page, live_server, aws_resources, settings, tmp_path):
    settings.UPLOADER_ALLOWED_TYPES = ["image/jpeg", "application/zip"]
    settings.UPLOADER_MAX_SIZE = 2000
    make_user("kim", "pw-kim-12345")
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ" * 100)
    large = tmp_path / "large.jpg"
    large.write_bytes(jpeg_bytes(8, 8) + b"\0" * 5000)
    log_in(page, live_server.url, "kim", "pw-kim-12345")
    calls = []
    page.on("request", lambda r: calls.append(r.url) if r.method != "GET" else None)
    page.set_input_files("#file-input", [str(program), str(large)])
    refused = page.locator('li.transfer[data-state="refused"]')
    refused.nth(1).wait_for()
    texts = refused.locator(".state").all_inner_texts()
    assert any("not accepted" in t for t in texts) and any("larger than" in t for t in texts)
    assert calls == []
    assert not Upload.objects.exists()


def test_the_page_in_korean_and_the_switch_to_english(browser, live_server, worker, tmp_path):
    context = browser.new_context(locale="ko-KR")
    page = context.new_page()
    try:
        make_user("minji", "pw-minji-123")
        log_in(page, live_server.url, "minji", "pw-minji-123")
        assert page.locator("html").get_attribute("lang") == "ko"
        assert page.locator("h2#uploads-title").inner_text() == "내 업로드"
        photo = tmp_path / "사진.jpg"
        photo.write_bytes(jpeg_bytes(16, 16))
        fake = tmp_path / "가짜.jpg"
        fake.write_bytes(b"MZ\x90\x00 a program" * 20)
        page.set_input_files("#file-input", [str(photo), str(fake)])
        row = page.locator('tr[data-status="available"]')
        row.wait_for(timeout=30_000)
        # The worker recorded why in English; the reader gets it in Korean.
        reason = page.locator('tr[data-status="rejected"] .reason')
        reason.wait_for(timeout=30_000)
        assert reason.inner_text() == (
            "내용이 형식과 맞지 않습니다. "
            "보낸 형식은 사진 (image/jpeg)인데 내용은 프로그램 (application/x-msdownload)입니다."
        )
        assert row.locator(".status").inner_text() == "사용 가능"  # drawn by the script, from its catalogue
        # Each sent file's card follows what became of it, in the reader's language.
        page.wait_for_function("() => document.querySelectorAll('li.transfer[data-outcome]').length === 2")
        assert sorted(page.locator("li.transfer .state").all_inner_texts()) == sorted(
            ["사용 가능", "거절됨: " + reason.inner_text()]
        )
        assert row.locator("button.delete").inner_text() == "삭제"

        page.locator("#language-switcher button[value=en]").click()
        page.wait_for_function("() => document.documentElement.lang === 'en'")
        page.locator('tr[data-status="available"] .status').wait_for()
        assert page.locator("h2#uploads-title").inner_text() == "Your uploads"
        assert page.locator('tr[data-status="available"] .status').inner_text() == "available"
    finally:
        context.close()
