"""Large files in a real browser: parallel parts, failures, a reload in the middle, cancel."""

import base64
import hashlib
import os
import shutil
from collections import Counter

import pytest

from uploader import aws
from uploader.aws import multipart
from uploader.models import Upload

from ..factories import make_user
from ..helpers import MiB, change_keeping_size_and_time, log_in, part_number, s3_operations_on, wait_for

pytestmark = pytest.mark.e2e
SIZE = 104 * MiB + 12345  # 14 parts of 8 MiB (the last one short)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "footage.zip"
    with open(path, "wb") as out:
        out.write(b"PK\x03\x04")  # a zip's magic number, so the worker's sniffing accepts it
        out.write(os.urandom(SIZE - 4))
    return path


class PartLog:
    """Counts part PUTs the page sends and part PUTs that S3 answered with 200."""

    def __init__(self, page):
        self.sent, self.stored = Counter(), Counter()
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request):
        if request.method == "PUT" and part_number(request.url):
            self.sent[part_number(request.url)] += 1

    def _response(self, response):
        if response.request.method == "PUT" and part_number(response.url) and response.status == 200:
            self.stored[part_number(response.url)] += 1


def _fail_first_attempt(page, part_numbers):
    failed = set()

    def handler(route):
        number = part_number(route.request.url)
        if number in part_numbers and number not in failed:
            failed.add(number)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(lambda url: part_number(url) in part_numbers, handler)
    return failed


def _refuse_parts_from(page, first):
    page.route(lambda url: (part_number(url) or 0) >= first, lambda route: route.abort("internetdisconnected"))


def _multipart_uploads(upload):
    listed = aws.s3().list_multipart_uploads(Bucket=upload.bucket, Prefix=upload.key)
    return listed.get("Uploads", [])


@pytest.fixture
def dana(transactional_db):
    return make_user("dana", "pw-dana-123")


def test_a_large_file_uploads_in_parallel_parts_through_failures(page, live_server, worker, big_file, dana):
    log_in(page, live_server.url, "dana", "pw-dana-123")
    parts = PartLog(page)
    failed = _fail_first_attempt(page, {2, 5})
    page.evaluate("""() => {
        window.progress = [];
        document.getElementById('uploader')
            .addEventListener('uploader:progress', e => window.progress.push(e.detail.loaded));
    }""")
    page.set_input_files("#file-input", str(big_file))
    page.locator('tr[data-status="available"]').wait_for(timeout=90_000)

    assert failed == {2, 5}
    assert sorted(parts.stored) == list(range(1, 15)) and set(parts.stored.values()) == {1}
    assert parts.sent[2] == 2 and parts.sent[5] == 2 and parts.sent[1] == 1  # retried only what failed
    progress = page.evaluate("window.progress")
    assert any(0 < p < SIZE for p in progress), "no intermediate progress was shown"
    assert max(progress) == SIZE
    upload = Upload.objects.get(owner=dana)
    assert (upload.status, upload.stored_size, upload.part_size) == ("available", SIZE, 8 * MiB)
    assert upload.checksum_sha256.endswith("-14")
    head = aws.s3().head_object(Bucket=upload.bucket, Key=upload.key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == upload.checksum_sha256
    # The complete named every part with its SHA-256: S3 checked them as it assembled the file.
    assert {"s3:CompleteMultipartUpload", "s3:ListParts"} & s3_operations_on(upload) == {"s3:CompleteMultipartUpload"}


def test_a_reload_in_the_middle_resumes_without_resending_stored_parts(
    page, live_server, worker, big_file, dana, tmp_path
):
    footage = tmp_path / big_file.name
    shutil.copy2(big_file, footage)
    log_in(page, live_server.url, "dana", "pw-dana-123")
    before = PartLog(page)
    _refuse_parts_from(page, 5)  # the connection "drops" after the first four parts
    page.set_input_files("#file-input", str(footage))
    wait_for(lambda: sorted(before.stored) == [1, 2, 3, 4], page=page, what="the first four parts")

    page.reload()  # still "offline" while the old page goes away
    page.unroute_all(behavior="ignoreErrors")
    page.locator("#uploader[data-ready]").wait_for()
    notice = page.locator("li.unfinished")
    assert "footage.zip" in notice.inner_text() and "resume" in notice.inner_text()
    # Meanwhile part 2 changed, the file keeping its name, size and time: the upload must end as
    # the file is now, not as the stored part 2 with the rest.
    change_keeping_size_and_time(footage, 8 * MiB + 4096)
    after = PartLog(page)
    page.set_input_files("#file-input", str(footage))
    page.locator('tr[data-status="available"]').wait_for(timeout=90_000)

    assert not set(after.sent) & {1, 3, 4}, f"stored parts were sent again: {after.sent}"
    assert sorted(after.stored) == [2, *range(5, 15)]
    upload = Upload.objects.get(owner=dana)
    assert upload.status == "available"
    assert upload.checksum_sha256 == _s3_checksum(footage, 8 * MiB)  # S3's, of the parts it holds
    assert page.locator("li.unfinished").count() == 0


def _s3_checksum(path, part_size):
    """What S3 says of a multipart object made of this file's parts (multipart.composite_checksum)."""
    with open(path, "rb") as f:
        parts = [base64.b64encode(hashlib.sha256(part).digest()) for part in iter(lambda: f.read(part_size), b"")]
    return multipart.composite_checksum(parts)


def test_cancel_aborts_the_multipart_upload_in_s3(page, live_server, worker, big_file, dana):
    log_in(page, live_server.url, "dana", "pw-dana-123")
    parts = PartLog(page)
    _refuse_parts_from(page, 3)
    page.set_input_files("#file-input", str(big_file))
    transfer = page.locator("li.transfer")
    page.wait_for_function("() => document.querySelector('li.transfer')?.dataset.state === 'uploading'")
    upload = Upload.objects.get(owner=dana)
    # Cancelled while parts are in flight, with the multipart upload open in S3.
    wait_for(lambda: parts.sent, page=page, what="a first part on its way")
    assert _multipart_uploads(upload), "the multipart upload should exist while parts are in flight"
    transfer.locator("button.cancel").click()
    page.wait_for_function("() => document.querySelector('li.transfer').dataset.state === 'cancelled'")
    page.wait_for_function("() => !Object.keys(localStorage).some(k => k.startsWith('uploader:resume:'))")

    upload.refresh_from_db()
    assert upload.status == "expired"
    assert _multipart_uploads(upload) == []
    assert parts.sent  # it had started sending
