"""What the README promises about transfers, each shown in the browser: an expired part URL is
signed again, four parts at a time, a failed single PUT is tried again, and the page gives up (and
says so) after the last attempt."""

from urllib.parse import parse_qs, urlsplit

import pytest

from uploader.models import Upload

from ..factories import jpeg_bytes, make_user
from ..helpers import MiB, UploadThrottle, log_in, part_number, sparse_file, wait_for

pytestmark = pytest.mark.e2e


def _is_store_put(request, base_url):
    return request.method == "PUT" and not request.url.startswith(base_url)


def test_an_expired_part_url_is_signed_again(page, live_server, worker, tmp_path):
    """The store answers 403 to a URL past its expiry; the page asks the API for a fresh one."""
    make_user("eve", "pw-eve-12345")
    big = sparse_file(tmp_path, "clip.zip", 20 * MiB)  # three parts
    log_in(page, live_server.url, "eve", "pw-eve-12345")
    signatures = {}
    page.on(
        "request",
        lambda r: (
            signatures.setdefault(part_number(r.url), []).append(parse_qs(urlsplit(r.url).query)["X-Amz-Signature"][0])
            if _is_store_put(r, live_server.url) and part_number(r.url)
            else None
        ),
    )
    refused = []

    def expired_once(route):
        if part_number(route.request.url) == 2 and not refused:
            refused.append(route.request.url)
            return route.fulfill(
                status=403, body="<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            )
        return route.continue_()

    page.route(lambda url: part_number(url) > 0, expired_once)
    page.set_input_files("#file-input", str(big))
    page.locator('tr[data-status="available"]').wait_for(timeout=60_000)
    assert len(signatures[2]) == 2 and signatures[2][0] != signatures[2][1]  # a new URL, not the same one again
    assert [len(signatures[n]) for n in (1, 3)] == [1, 1]


# The PUTs in flight as the page itself sees them: counted up when one is sent and down when it is
# done (readystatechange to DONE comes before the load event that lets the page send the next).
# Counted from the network events instead, a PUT started at once from a URL in hand can be seen
# before the end of the one it follows.
_COUNT_PUTS = """(() => {
  let now = 0;
  window.putsAtOnce = 0;
  const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, ...rest) {
    this.counted = method === "PUT";
    return open.call(this, method, ...rest);
  };
  XMLHttpRequest.prototype.send = function (...args) {
    if (this.counted) {
      window.putsAtOnce = Math.max(window.putsAtOnce, ++now);
      this.addEventListener("readystatechange", () => {
        if (this.readyState === 4 && this.counted) {
          this.counted = false;
          now--;
        }
      });
    }
    return send.apply(this, args);
  };
})();"""


def test_four_parts_at_a_time(page, live_server, worker, tmp_path):
    make_user("eve", "pw-eve-12345")
    big = sparse_file(tmp_path, "long.zip", 64 * MiB)  # eight parts
    page.add_init_script(_COUNT_PUTS)
    log_in(page, live_server.url, "eve", "pw-eve-12345")
    UploadThrottle(page, 16 * MiB)  # slow enough for the parts to overlap
    page.set_input_files("#file-input", str(big))
    page.locator('tr[data-status="available"]').wait_for(timeout=60_000)
    assert page.evaluate("window.putsAtOnce") == 4


def test_twelve_parts_take_three_calls_to_the_api(page, live_server, aws_resources, tmp_path):
    """The page hashes its first eight parts before the start, whose answer carries their URLs,
    and asks for the rest in one call ahead of its senders: start, parts, complete (it was a call
    for nearly every part). The complete checks every part's SHA-256 against S3: it is accepted."""
    make_user("eve", "pw-eve-12345")
    big = sparse_file(tmp_path, "long.zip", 96 * MiB)  # twelve parts of 8 MiB
    log_in(page, live_server.url, "eve", "pw-eve-12345")
    calls = []
    api = f"{live_server.url}/api/v1/uploads/"
    page.on(
        "request", lambda r: calls.append(r.url[len(api) :]) if r.method == "POST" and r.url.startswith(api) else None
    )
    page.set_input_files("#file-input", str(big))
    wait_for(lambda: any(c.endswith("/complete/") for c in calls), page=page, timeout=90, what="the complete")
    wait_for(lambda: Upload.objects.exclude(status="pending").exists(), page=page, what="the complete accepted")
    upload = Upload.objects.get()
    assert upload.part_count == 12 and upload.status in ("processing", "available")
    assert calls == ["", f"{upload.pk}/parts/", f"{upload.pk}/complete/"], calls


def test_a_failed_single_put_is_tried_again(page, live_server, worker, tmp_path):
    user = make_user("eve", "pw-eve-12345")
    photo = tmp_path / "again.jpg"
    photo.write_bytes(jpeg_bytes(30, 30))
    log_in(page, live_server.url, "eve", "pw-eve-12345")
    answered = []

    def busy_once(route):
        if route.request.method != "PUT":  # the thumbnail's GET, later
            return route.continue_()
        if not answered:
            answered.append(503)
            return route.fulfill(status=503, body="<Error><Code>SlowDown</Code></Error>")
        answered.append("store")
        return route.continue_()

    page.route(lambda url: "X-Amz-Signature" in url, busy_once)
    page.set_input_files("#file-input", str(photo))
    page.locator('tr[data-status="available"]').wait_for(timeout=60_000)
    assert answered == [503, "store"]
    assert Upload.objects.get(owner=user).stored_size == photo.stat().st_size


def test_the_page_gives_up_after_the_last_attempt_and_says_why(page, live_server, aws_resources, tmp_path):
    user = make_user("eve", "pw-eve-12345")
    photo = tmp_path / "never.jpg"
    photo.write_bytes(jpeg_bytes(30, 30))
    log_in(page, live_server.url, "eve", "pw-eve-12345")
    tries = []

    def always_busy(route):
        if route.request.method != "PUT":
            return route.continue_()
        tries.append(route.request.url)
        return route.fulfill(status=503, body="<Error><Code>SlowDown</Code></Error>")

    page.route(lambda url: "X-Amz-Signature" in url, always_busy)
    page.set_input_files("#file-input", str(photo))
    transfer = page.locator("li.transfer")
    page.wait_for_function("() => document.querySelector('li.transfer')?.dataset.state === 'failed'", timeout=60_000)
    assert len(tries) == 6  # ATTEMPTS in uploader/static/uploader/retry.js
    assert transfer.locator(".state").inner_text() == "The storage answered 503."
    assert transfer.locator("button.resume").is_visible()  # the person may try again
    wait_for(lambda: Upload.objects.filter(owner=user, status="pending").exists(), what="the pending record")
