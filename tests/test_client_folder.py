"""The reference client uploading a folder: relative paths kept, a batch line, refusals listed
with a non-zero exit, and a re-run after an interruption that skips what is already available."""

import re
import signal
from collections import Counter

import pytest

from uploader.models import Upload

from .factories import jpeg_bytes
from .test_client import client_cli  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def _roll(root, count):
    for n in range(count):
        folder = root / ("day1" if n % 2 else "day2/best")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{n // 2:04d}.jpg").write_bytes(jpeg_bytes(16 + n, 16))
    return root


def test_a_folder_uploads_with_its_paths_and_lists_what_was_refused(client_cli, tmp_path, drain):  # noqa: F811
    root = _roll(tmp_path / "camera", 12)
    (root / "setup.exe").write_bytes(b"MZ" + b"\0" * 3_000_000)
    (root / ".DS_Store").write_bytes(b"\0" * 10)  # the system's, never sent
    result = client_cli("upload", str(root), "--jobs", "3", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "12 sent, 0 already available, 1 refused" in result.stdout
    assert "refused: camera/setup.exe:" in result.stdout
    # The batch's progress line; the refused file's 3 MB leave the total, so the end says all is sent.
    last = result.stderr.strip().splitlines()[-1]
    assert re.match(r"\[13/13\] 0\.0 of 0\.0 MB, [\d.]+ MB/s, 0 s left: ", last), result.stderr
    drain(lambda: Upload.objects.filter(status="available").count() == 12)
    paths = Counter(Upload.objects.values_list("relative_path", flat=True))
    assert paths == {"camera/day1": 6, "camera/day2/best": 6}
    assert not Upload.objects.filter(original_filename=".DS_Store").exists()


def test_an_interrupted_folder_upload_run_again_skips_what_is_available_and_sends_the_rest(
    client_cli,  # noqa: F811
    tmp_path,
    drain,
):
    count = 60
    root = _roll(tmp_path / "roll", count)
    proc = client_cli.start("upload", str(root), "--jobs", "1")
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("[20/"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    drain(lambda: Upload.objects.filter(status="available").count() >= 20, timeout=60)
    drain(lambda: not Upload.objects.filter(status="processing").exists(), timeout=60)
    available_before = Upload.objects.filter(status="available").count()
    assert available_before < count

    result = client_cli("upload", str(root))
    # A PUT the kill cut short may still land after the count above: the re-run skips at least
    # what was available then, and sends exactly the rest.
    sent, skipped = map(int, re.search(r"(\d+) sent, (\d+) already available, 0 refused", result.stdout).groups())
    assert skipped >= available_before and sent + skipped == count, result.stdout
    drain(lambda: Upload.objects.filter(status="available").count() == count, timeout=60)
    # Every file is available once: none sent twice, none missing.
    names = Counter(Upload.objects.filter(status="available").values_list("relative_path", "original_filename"))
    assert len(names) == count and set(names.values()) == {1}
