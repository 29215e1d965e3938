"""`make test` never passes by skipping the browser tests: without Chromium they fail, unless
UPLOADER_SKIP_BROWSER=1 asks for the skip out loud."""

import os
import subprocess
import sys

from django.conf import settings

TEST = "tests/e2e/test_hostile_names_browser.py"


def _run(tmp_path, **env):
    # Its own SQLite file: the run must not touch the database of the suite that runs it.
    own = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "TEST_SQLITE_PATH": str(tmp_path / "test.sqlite3")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", TEST],
        cwd=settings.BASE_DIR,
        env={**os.environ, **own, "CHROMIUM_PATH": "/nonexistent/chromium", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_missing_chromium_fails_the_browser_tests(tmp_path):
    run = _run(tmp_path)
    assert run.returncode == 1, run.stdout[-2000:]
    assert "Chromium not found at /nonexistent/chromium" in run.stdout
    assert "1 error" in run.stdout


def test_skipping_them_must_be_asked_for(tmp_path):
    run = _run(tmp_path, UPLOADER_SKIP_BROWSER="1")
    assert run.returncode == 0, run.stdout[-2000:]
    assert "1 skipped" in run.stdout
