"""Many files at once on the upload page, as a person drops a camera roll: one bounded queue, a
throttle answer is a wait and never a failure, a folder's tree is kept, and the batch as a whole is
shown and can be paused, resumed and cancelled."""

import pytest
from django.core.cache import cache

from uploader.models import Upload

from ..factories import jpeg_bytes, make_user
from ..helpers import log_in, wait_for

pytestmark = pytest.mark.e2e

API = "/api/v1/uploads/"


class ApiTraffic:
    """The page's calls to the upload API: how many were in flight at most, and the 429s."""

    def __init__(self, page, base_url):
        self.in_flight, self.most, self.throttled = set(), 0, 0
        ours = lambda r: r.url.startswith(f"{base_url}{API}")  # noqa: E731

        def started(request):
            if ours(request):
                self.in_flight.add(request)
                self.most = max(self.most, len(self.in_flight))

        def ended(request):
            self.in_flight.discard(request)

        def answered(response):
            self.throttled += ours(response.request) and response.status == 429

        page.on("request", started)
        page.on("requestfinished", ended)
        page.on("requestfailed", ended)
        page.on("response", answered)


def _photo_tree(root, count):
    """`count` small JPEGs in nested folders, the same names in different folders (a camera roll
    split by day), plus an empty folder and a file the policy refuses."""
    folders = ["holiday/day1", "holiday/day2", "holiday/day2/best", "work"]
    for n in range(count):
        folder = root / folders[n % len(folders)]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{n // len(folders):04d}.jpg").write_bytes(jpeg_bytes(16 + n % 50, 16, (n % 256, 40, 90)))
    (root / "holiday" / "empty").mkdir()
    (root / "work" / "setup.exe").write_bytes(b"MZ" + b"\0" * 100)
    return root


def test_a_folder_of_photos_all_arrive_with_their_paths_under_the_default_throttles(
    page, live_server, worker, tmp_path, settings
):
    """More files than the presign and action rates allow calls in a minute (120 each by default):
    their starts and completes go in batch calls, nothing fails, and no more than a few API calls
    are ever in flight."""
    assert (settings.UPLOADER_PRESIGN_RATE, settings.UPLOADER_ACTION_RATE) == ("120/min", "120/min")  # defaults
    cache.clear()  # the rates count from zero (the cache outlives a test's database)
    count = 300
    tree = _photo_tree(tmp_path / "camera", count)
    user = make_user("dana", "pw-dana-12345")
    log_in(page, live_server.url, "dana", "pw-dana-12345")
    traffic = ApiTraffic(page, live_server.url)
    assert "image/jpeg" in page.get_attribute("#file-input", "accept").split(",")

    page.set_input_files("#folder-input", str(tree))
    batch = page.locator("#batch")
    batch.wait_for()
    page.wait_for_function("() => document.getElementById('batch').dataset.state === 'done'", timeout=240_000)
    assert (batch.get_attribute("data-sent"), batch.get_attribute("data-failed")) == (str(count), "0")
    assert "setup.exe" in batch.locator(".batch-summary").inner_text()

    def all_available():
        return Upload.objects.filter(owner=user, status="available").count() == count

    wait_for(all_available, timeout=120, page=page, what=f"{count} available uploads")
    paths = sorted(Upload.objects.filter(owner=user).values_list("relative_path", "original_filename"))
    assert ("camera/holiday/day1", "IMG_0000.jpg") in paths and ("camera/holiday/day2", "IMG_0000.jpg") in paths
    assert ("camera/holiday/day2/best", "IMG_0000.jpg") in paths
    assert len(set(paths)) == count  # the same name in two folders is two uploads, told apart by path
    assert Upload.objects.filter(owner=user).count() == count  # none started twice
    assert traffic.most <= 6, traffic.most  # four transfers, the list's poll, and a complete at most
    # The finished transfers fold away: the page's size does not grow with the batch.
    assert page.locator("li.transfer").count() <= 10


def test_a_throttled_batch_waits_for_the_rate_and_nothing_fails(page, live_server, worker, tmp_path, settings):
    """With a rate far below the batch, every 429 is waited out (its Retry-After) and sent again."""
    cache.clear()
    settings.UPLOADER_BATCH_ITEMS_RATE = "12/s"  # seconds, not minutes: the same waits, sooner over
    count = 40
    files = []
    for n in range(count):
        path = tmp_path / f"shot{n:02d}.jpg"
        path.write_bytes(jpeg_bytes(20 + n, 20))
        files.append(str(path))
    user = make_user("dana", "pw-dana-12345")
    log_in(page, live_server.url, "dana", "pw-dana-12345")
    traffic = ApiTraffic(page, live_server.url)
    page.set_input_files("#file-input", files)
    batch = page.locator("#batch")
    page.wait_for_function("() => document.getElementById('batch').dataset.state === 'done'", timeout=180_000)
    assert (batch.get_attribute("data-sent"), batch.get_attribute("data-failed")) == (str(count), "0")
    assert traffic.throttled > 0  # the rate was met, and waited out
    wait_for(
        lambda: Upload.objects.filter(owner=user, status="available").count() == count,
        timeout=120,
        page=page,
        what="every photo available",
    )
    assert Upload.objects.filter(owner=user).count() == count  # a throttled start was sent again, never doubled


def test_the_batch_pauses_resumes_and_cancels_as_a_whole(page, live_server, worker, tmp_path):
    user = make_user("dana", "pw-dana-12345")
    files = []
    for n in range(12):
        path = tmp_path / f"photo{n:02d}.jpg"
        path.write_bytes(jpeg_bytes(20 + n, 20))
        files.append(str(path))
    log_in(page, live_server.url, "dana", "pw-dana-12345")
    store = {"let_through": 0, "held": []}

    def hold_puts(route):
        if route.request.method != "PUT":
            return route.continue_()
        if store["let_through"] > 0:
            store["let_through"] -= 1
            return route.continue_()
        store["held"].append(route)  # it waits here, unanswered

    page.route(lambda url: "X-Amz-Signature" in url, hold_puts)
    page.set_input_files("#file-input", files)
    wait_for(lambda: len(store["held"]) == 4, page=page, what="four transfers at once")
    page.wait_for_timeout(500)  # an absence can only be watched for a while
    assert len(store["held"]) == 4  # the other eight wait their turn
    batch = page.locator("#batch")
    assert "0 of 12 files" in batch.inner_text()

    page.locator("#batch button.pause-all").click()
    assert batch.get_attribute("data-state") == "paused"
    store["held"].clear()  # the page cut those requests: each is sent again on resume
    store["let_through"] = 4
    page.locator("#batch button.resume-all").click()
    wait_for(lambda: batch.get_attribute("data-sent") == "4", page=page, what="four sent")
    wait_for(lambda: len(store["held"]) == 4, page=page, what="the next four under way")
    page.locator("#batch button.cancel-all").click()
    page.wait_for_function("() => document.getElementById('batch').dataset.state === 'done'", timeout=30_000)
    assert "4 sent" in batch.locator(".batch-summary").inner_text()
    assert "8 cancelled" in batch.locator(".batch-summary").inner_text()
    wait_for(
        lambda: Upload.objects.filter(owner=user, status="available").count() == 4,
        page=page,
        what="the sent photos available",
    )
    wait_for(
        lambda: not Upload.objects.filter(owner=user, status="pending").exists(),
        page=page,
        what="the cancelled transfers aborted",
    )
    statuses = sorted(Upload.objects.filter(owner=user).values_list("status", flat=True))
    assert statuses.count("available") == 4 and set(statuses) == {"available", "expired"}  # the rest aborted


def test_a_folder_dropped_again_after_a_reload_sends_only_what_is_not_yet_available(
    page, live_server, worker, tmp_path
):
    tree = _photo_tree(tmp_path / "camera", 24)
    user = make_user("dana", "pw-dana-12345")
    log_in(page, live_server.url, "dana", "pw-dana-12345")
    page.set_input_files("#folder-input", str(tree))
    page.wait_for_function("() => document.getElementById('batch').dataset.state === 'done'", timeout=60_000)
    wait_for(
        lambda: Upload.objects.filter(owner=user, status="available").count() == 24, page=page, what="24 available"
    )
    # Two more photos taken since, and the page reloaded: the folder is chosen again.
    for name in ("IMG_9998.jpg", "IMG_9999.jpg"):
        (tree / "holiday" / "day1" / name).write_bytes(jpeg_bytes(33, 33, (1, 2, 3)) + name.encode())
    page.reload()
    page.locator("#uploader[data-ready]").wait_for()
    page.set_input_files("#folder-input", str(tree))
    page.wait_for_function("() => document.getElementById('batch').dataset.state === 'done'", timeout=60_000)
    batch = page.locator("#batch")
    assert (batch.get_attribute("data-skipped"), batch.get_attribute("data-sent")) == ("24", "2")
    assert "24 already uploaded" in batch.locator(".batch-summary").inner_text()
    wait_for(
        lambda: Upload.objects.filter(owner=user, status="available").count() == 26, page=page, what="26 available"
    )
    assert Upload.objects.filter(owner=user).count() == 26  # nothing started twice
