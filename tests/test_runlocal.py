"""What `make run` starts (`manage.py runlocal`), run as a newcomer would: its own emulator, worker
and web server on a fresh database; an upload through the API becomes available; Ctrl-C stops
every process it started."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from uploader.aws import localaws

from .factories import jpeg_bytes
from .helpers import wait_for

PROJECT = Path(__file__).resolve().parents[1]


def _worker_pid(parent):
    """The main `celery worker` process runlocal started (its pool's processes are its children)."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields["PPid"]) == parent and b"celery" in cmdline and b"worker" in cmdline:
            return int(status.parent.name)
    return None


def _started_for(*marks):
    """The live processes whose command line names one of `marks` (this test's directories and
    port: what runlocal started for it, in whatever process group)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # it ended meanwhile
            continue
        if state != "Z" and any(mark in text for mark in marks):
            found.append(text)
    return found


def test_runlocal_serves_an_upload_end_to_end_and_ctrl_c_stops_everything(tmp_path):
    web, emulator = f"127.0.0.1:{localaws.free_port()}", f"http://127.0.0.1:{localaws.free_port()}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "DJANGO_", "DATABASE_URL"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "AWS_ENDPOINT_URL": emulator,
        "UPLOADER_CORS_ORIGINS": f"http://{web}",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput"], env=env, cwd=PROJECT, check=True, capture_output=True, timeout=300
    )
    log = tmp_path / "runlocal.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*manage, "runlocal", "--addr", web, "--state", str(tmp_path / "state"), "--admin-password", "pw-admin-1"],
            env=env,
            cwd=PROJECT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives `make run`
        )
    try:
        wait_for(lambda: "Ctrl-C stops everything" in log.read_text(), timeout=120, what=f"the banner:\n{log}")
        assert f"Open http://{web}/ and log in as admin / pw-admin-1" in log.read_text()
        marks = (str(tmp_path), web)
        started = _started_for(*marks)
        for part in ("manage.py runlocal", "manage.py runserver", "celery -A config worker"):
            assert any(part in command for command in started), (part, started)

        token = requests.post(
            f"http://{web}/api/v1/auth/token/", json={"username": "admin", "password": "pw-admin-1"}, timeout=30
        ).json()["access"]
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        body = jpeg_bytes()
        record = api.post(
            f"http://{web}/api/v1/uploads/",
            json={"filename": "사진.jpg", "content_type": "image/jpeg", "size": len(body)},
            timeout=30,
        ).json()
        put = record["upload"]
        assert requests.put(put["url"], data=body, headers=put["headers"], timeout=30).status_code == 200
        status = wait_for(
            lambda: api.get(f"http://{web}/api/v1/uploads/{record['id']}/", timeout=10).json()["status"] == "available",
            timeout=60,
            what="the worker's verdict",
        )
        assert status
        # As a process manager would, runlocal starts a worker that exited again.
        os.kill(_worker_pid(proc.pid), signal.SIGKILL)
        wait_for(lambda: "The worker exited (-9); starting it again." in log.read_text(), what="the restart")
        second = api.post(
            f"http://{web}/api/v1/uploads/",
            json={"filename": "b.jpg", "content_type": "image/jpeg", "size": len(body)},
            timeout=30,
        ).json()
        assert requests.put(second["upload"]["url"], data=body, headers=second["upload"]["headers"], timeout=30).ok
        wait_for(
            lambda: api.get(f"http://{web}/api/v1/uploads/{second['id']}/", timeout=10).json()["status"] == "available",
            timeout=90,
            what="the restarted worker's verdict",
        )
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert proc.returncode == 0, log.read_text()
    assert "Stopping ..." in log.read_text()
    wait_for(lambda: not _started_for(*marks), what="every process it started to end")


def test_runlocal_refuses_to_run_against_anything_but_the_local_emulator(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "DJANGO_", "DATABASE_URL"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "AWS_ENDPOINT_URL": "https://s3.eu-west-1.amazonaws.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "runlocal"], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "runlocal is for the local emulator; AWS_ENDPOINT_URL points elsewhere." in result.stderr
