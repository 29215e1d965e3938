"""The peer in `make bench`: django-s3-file-field (s3ff), the library a team would weigh us
against, installed as its users install it (a scratch virtualenv from tests/bench/s3ff/
requirements.txt, pinned) and served like us (gunicorn, 2 processes x 4 threads, simplejwt bearer
tokens, SQLite) on the same emulator, measured with the same load generator in the same run.

Presign against s3ff's upload-initialize in three rounds, the order reversed in the middle one,
each beside its own trivial endpoint (so a ratio normalised by each server's own baseline takes
out what the two hosts' middleware and settings cost); and a 1 GiB file end to end, each with its
own client: requests to Django and the server's CPU.
"""

import hashlib
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from .run import (
    BASE_DIR,
    CLK_TCK,
    MiB,
    _drop_scratch_database,
    _make_file,
    _rate,
    _scratch_database,
    _tree_cpu_seconds,
    _user_and_token,
    _wait_http,
)

HERE = Path(__file__).resolve().parent / "s3ff"
VENV = BASE_DIR / "var" / "bench-s3ff-venv"
ROUNDS = 3
# A 1 GiB file costs each server a few tens of ms of CPU, which a shared machine moves by ten in
# one run or the next (README, Benchmarks): five rounds each, alternating, and the medians.
FILE_ROUNDS = 5


def _venv() -> Path:
    """The peer's virtualenv, (re)installed when its requirements change."""
    requirements = HERE / "requirements.txt"
    stamp = VENV / ".requirements-sha256"
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [VENV / "bin" / "pip", "install", "-q", "--disable-pip-version-check", "-r", requirements], check=True
        )
        stamp.write_text(wanted)
    return VENV / "bin" / "python"


class Peer:
    """s3ff's host project under gunicorn, on the stack's emulator; torn down after."""

    def __init__(self, stack):
        from uploader.aws import localaws

        self.port = localaws.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **stack.env,
            "DJANGO_SETTINGS_MODULE": "peersite.settings",
            "PYTHONPATH": str(HERE),
            "PEER_SECRET_KEY": "bench-peer-" + os.urandom(16).hex(),
            "PEER_DATABASE": str(Path(stack.tmp.name) / "peer.sqlite3"),
            "PEER_BUCKET": stack.env["UPLOADER_BUCKET"],
        }
        if not stack.database.startswith("sqlite"):  # the same engine as ours: a scratch database of its own
            self.database = _scratch_database(stack.tmp.name, "peer")
            self.env["PEER_DATABASE_URL"] = self.database

    def __enter__(self):
        python = _venv()
        manage = [python, "-m", "django"]
        subprocess.run([*manage, "migrate", "--run-syncdb", "-v", "0"], env=self.env, cwd=HERE, check=True)
        self.web = subprocess.Popen(
            [python, "-m", "gunicorn", "peersite.wsgi_app:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "2", "--threads", "4", "--timeout", "600", "--log-level", "warning"],
            env=self.env,
            cwd=HERE,
        )  # fmt: skip
        _wait_http(self.url + "/ping/")
        self.python = python
        return self

    def token(self, username):
        out = subprocess.run(
            [self.python, "-m", "peersite.token", username], env=self.env, cwd=HERE, check=True, capture_output=True
        )
        return out.stdout.decode().strip()

    def __exit__(self, *exc):
        self.web.terminate()
        self.web.wait(30)
        if "PEER_DATABASE_URL" in self.env:
            _drop_scratch_database(self.database)


def _idle_cpu_rate(pid, seconds=5):
    before, started = _tree_cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return (_tree_cpu_seconds(pid) - before) / (time.perf_counter() - started)


def _ours_end_to_end(stack, path, size, idle):
    """Our reference client's file: (requests to Django, server CPU seconds)."""
    from uploader.client.session import Session
    from uploader.client.transfer import Uploader

    _, token = _user_and_token("bench-peer-ours")
    session = Session(stack.url, home=Path(stack.tmp.name) / "peer-client")
    session.tokens = {"access": token, "refresh": ""}
    counted = []
    session.http.hooks["response"].append(lambda r, *a, **k: counted.append(r.url))
    before, started = _tree_cpu_seconds(stack.web.pid), time.perf_counter()
    record = Uploader(session, concurrency=4).upload(path)
    cpu = _tree_cpu_seconds(stack.web.pid) - before - idle * (time.perf_counter() - started)
    assert record["status"] in ("pending", "processing", "available"), record
    return sum(url.startswith(stack.url) for url in counted), max(cpu, 1 / CLK_TCK)


def _theirs_end_to_end(peer, path, size, token, idle):
    """s3ff's protocol as its widget speaks it: initialize (every part URL at once), the parts
    straight to S3 four at a time, complete (a presigned CompleteMultipartUpload the client sends),
    finalize. Returns (requests to Django, server CPU seconds)."""
    django = requests.Session()
    django.headers["Authorization"] = f"Bearer {token}"
    before, started, calls = _tree_cpu_seconds(peer.web.pid), time.perf_counter(), 0

    def call(route, body):
        nonlocal calls
        calls += 1
        response = django.post(f"{peer.url}/api/joist/{route}/", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    plan = call(
        "upload-initialize",
        {"field_id": "peersite.Document.file", "file_name": path.name, "file_size": size,
         "content_type": "application/zip"},
    )  # fmt: skip

    def put(part):
        with open(path, "rb") as source:
            source.seek(sum(p["size"] for p in plan["parts"] if p["part_number"] < part["part_number"]))
            body = source.read(part["size"])
        response = requests.put(part["upload_url"], data=body, timeout=600)
        response.raise_for_status()
        return {"part_number": part["part_number"], "size": part["size"], "etag": response.headers["ETag"]}

    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(put, plan["parts"]))
    done = call(
        "upload-complete",
        {"upload_signature": plan["upload_signature"], "upload_id": plan["upload_id"], "parts": parts},
    )
    requests.post(done["complete_url"], data=done["body"], timeout=600).raise_for_status()
    call("finalize", {"upload_signature": plan["upload_signature"]})
    cpu = _tree_cpu_seconds(peer.web.pid) - before - idle * (time.perf_counter() - started)
    return calls, max(cpu, 1 / CLK_TCK)


def bench_peer(stack, size=1024 * MiB):
    """Presign against s3ff's initialize; a 1 GiB file end to end, ours against theirs."""
    body = {"filename": "photo.jpg", "content_type": "image/jpeg", "size": 123456}
    init = {"field_id": "peersite.Document.file", "file_name": "photo.jpg", "file_size": 123456,
            "content_type": "image/jpeg"}  # fmt: skip
    with Peer(stack) as peer:
        ours = {"Authorization": f"Bearer {_user_and_token('bench-peer')[1]}"}
        theirs = {"Authorization": f"Bearer {peer.token('bench-peer')}"}
        # Warm both: clients built, serializers derived, the first requests' imports done.
        _rate(f"{stack.url}/api/v1/uploads/", ours, method="POST", json_body=body, per_thread=20)
        _rate(f"{peer.url}/api/joist/upload-initialize/", theirs, method="POST", json_body=init, per_thread=20)
        figures = {"ping": [], "presign": [], "peer_ping": [], "peer_initialize": []}
        for round_ in range(ROUNDS):
            steps = [
                ("ping", lambda: _rate(f"{stack.url}/bench/ping/", ours)),
                ("presign", lambda: _rate(f"{stack.url}/api/v1/uploads/", ours, method="POST", json_body=body)),
                ("peer_ping", lambda: _rate(f"{peer.url}/ping/", theirs)),
                ("peer_initialize", lambda: _rate(
                    f"{peer.url}/api/joist/upload-initialize/", theirs, method="POST", json_body=init)),
            ]  # fmt: skip
            for name, measure in reversed(steps) if round_ == 1 else steps:
                figures[name].append(measure()[0])
        rps = {name: statistics.median(values) for name, values in figures.items()}

        # Both servers warmed on their whole path (every AWS operation's model loaded, in both web
        # processes as far as the balancing goes), then their idle CPU, then FILE_ROUNDS rounds of
        # the file each, alternating; the medians.
        token = theirs["Authorization"].split()[1]
        warm = [Path(stack.tmp.name) / f"warm-{i}.zip" for i in range(2)]  # a resume state each
        for each in warm:
            _make_file(each, 64 * MiB)
        for _ in range(2):
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda each: _ours_end_to_end(stack, each, 64 * MiB, 0), warm))
                list(pool.map(lambda each: _theirs_end_to_end(peer, each, 64 * MiB, token, 0), warm))
        for each in warm:
            each.unlink()
        idle_ours, idle_theirs = _idle_cpu_rate(stack.web.pid), _idle_cpu_rate(peer.web.pid)
        path = Path(stack.tmp.name) / "peer.zip"
        _make_file(path, size)
        ours_runs, theirs_runs = [], []
        for _ in range(FILE_ROUNDS):
            ours_runs.append(_ours_end_to_end(stack, path, size, idle_ours))
            theirs_runs.append(_theirs_end_to_end(peer, path, size, token, idle_theirs))
        path.unlink()
        our_calls, our_cpu = max(c for c, _ in ours_runs), statistics.median(cpu for _, cpu in ours_runs)
        their_calls, their_cpu = max(c for c, _ in theirs_runs), statistics.median(cpu for _, cpu in theirs_runs)
    gib = size / 1024**3
    return {
        "s3ff_initialize_rps": rps["peer_initialize"],
        "s3ff_trivial_endpoint_rps": rps["peer_ping"],
        "presign_rps_beside_s3ff": rps["presign"],
        "trivial_endpoint_rps_beside_s3ff": rps["ping"],
        "presign_vs_s3ff": rps["presign"] / rps["peer_initialize"],
        "presign_vs_s3ff_normalised": (rps["presign"] / rps["ping"]) / (rps["peer_initialize"] / rps["peer_ping"]),
        "requests_per_gib": our_calls / gib,
        "s3ff_requests_per_gib": their_calls / gib,
        "requests_per_gib_vs_s3ff": our_calls / their_calls,
        "server_cpu_s_per_gib": our_cpu / gib,
        "s3ff_server_cpu_s_per_gib": their_cpu / gib,
        "cpu_per_gib_vs_s3ff": our_cpu / their_cpu,
    }
