"""Helpers the tests import (pytest advises against importing from conftest.py)."""

import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connection

from uploader import aws
from uploader.aws import localaws

PROJECT = Path(__file__).resolve().parents[1]


def wait_for(predicate, *, timeout=30.0, interval=0.2, what="the condition", page=None):
    """Poll until predicate() is truthy and return its value; fail after `timeout` seconds. With a
    browser `page`, wait through it, so the page's events keep flowing meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        if page is not None:
            page.wait_for_timeout(interval * 1000)
        else:
            time.sleep(interval)


MiB = 1024 * 1024


def part_number(url):
    """The part number a multipart part URL writes; 0 for any other URL."""
    return int(parse_qs(urlsplit(url).query).get("partNumber", ["0"])[0])


def sparse_file(directory, name, size, head=b"PK\x03\x04"):
    """A file of `size` bytes that starts like a zip (what the worker's sniffing accepts)."""
    path = directory / name
    with open(path, "wb") as out:
        out.write(head)
        out.truncate(size)
    return path


def change_keeping_size_and_time(path, offset, length=4096):
    """New bytes at `offset`, the file's size and times kept (as a tool that preserves them would
    leave it): a client that knows a file by its name, size and time takes it for the same one."""
    kept = path.stat()
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(os.urandom(length))
    os.utime(path, ns=(kept.st_atime_ns, kept.st_mtime_ns))


class UploadThrottle:
    """Chromium's own network emulation: uploads leave the page no faster than the rate set."""

    def __init__(self, page, bytes_per_second):
        self._cdp = page.context.new_cdp_session(page)
        self._cdp.send("Network.enable")
        self.set(bytes_per_second)

    def set(self, bytes_per_second):
        conditions = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second}
        self._cdp.send("Network.emulateNetworkConditions", conditions)

    def lift(self):
        self.set(-1)


def built_by_npm(path):
    """A file `make test` builds with npm for the browser tests; missing, the test cannot run."""
    if not path.exists():
        browser_part_missing(f"{path} is missing: `make test` builds it with npm (apt-get install -y npm)")
    return path


def browser_part_missing(message):
    """A browser test cannot run (Chromium, or an npm package, is missing): a failure, never a
    silent skip, unless UPLOADER_SKIP_BROWSER=1 asks for the skip out loud."""
    if os.environ.get("UPLOADER_SKIP_BROWSER"):
        pytest.skip(f"{message} (UPLOADER_SKIP_BROWSER is set)")
    pytest.fail(f"{message}; or set UPLOADER_SKIP_BROWSER=1 to skip the browser tests")


def wait_past_expiry(url):
    """Wait until a presigned URL has expired by its own X-Amz-Date and X-Amz-Expires (plus the
    second S3 rounds to), not for a guessed while."""
    query = parse_qs(urlsplit(url).query)
    signed = dt.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    expires = signed.timestamp() + int(query["X-Amz-Expires"][0]) + 1
    time.sleep(max(0.0, expires - time.time()))


def api_start(api, **overrides):
    """POST /api/v1/uploads/ through a DRF test client: a 1234-byte cat.jpg unless overridden."""
    body = {"filename": "cat.jpg", "content_type": "image/jpeg", "size": 1234, **overrides}
    return api.post("/api/v1/uploads/", body, format="json")


def start_upload(owner, body, *, name="photo.jpg", content_type="image/jpeg"):
    """A pending upload started through the service, as the API would: (upload, its PUT)."""
    from uploader import services

    started = services.upload_start(owner=owner, filename=name, content_type=content_type, size=len(body))
    return started.upload, started.instruction["upload"]


def put_object(instruction, body, **header_overrides):
    headers = {**instruction["headers"], **header_overrides}
    return requests.request(instruction["method"], instruction["url"], data=body, headers=headers, timeout=30)


def s3_operations_on(upload):
    """The S3 operations this process made on the upload's object (`s3:ListParts`, ...), as the
    product's own record of its AWS calls has them (uploader/aws/callrecord.py)."""
    from django.conf import settings

    records = [json.loads(line) for line in Path(settings.UPLOADER_AWS_CALL_LOG).read_text().splitlines()]
    return {r["action"] for r in records if r["resource"] == f"{upload.bucket}/{upload.key}"}


def purge_queue(name):
    sqs = aws.sqs()
    url = aws.queue_url(name)
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def queue_depth(name):
    """(visible, in flight) messages on a queue."""
    attributes = aws.sqs().get_queue_attributes(
        QueueUrl=aws.queue_url(name),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def database_url():
    """The test database as a DATABASE_URL, for the processes a test starts."""
    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    user = conf.get("USER") or ""
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{conf.get('HOST') or '127.0.0.1'}:{conf.get('PORT') or 5432}/{conf['NAME']}"


def environment_without_settings():
    """This process's environment without what selects settings, a database or a cache."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "CACHE_URL"))
    }


def production_environment(redis_url="redis://127.0.0.1:1/0"):
    """What a web process of config.settings.production needs (its default), on the test database
    and the session's emulator, behind one TLS proxy."""
    return {
        **environment_without_settings(),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO=https",
    }


class ApiUser:
    """A client of a live server, as a mobile app is: a JWT pair from the token endpoint, then
    bearer calls over HTTP."""

    def __init__(self, base_url, username, password, *, behind_tls_proxy=False):
        self.base_url = base_url
        self.http = requests.Session()
        if behind_tls_proxy:  # as the proxy tells production's settings (which redirect plain HTTP)
            self.http.headers["X-Forwarded-Proto"] = "https"
        response = self.http.post(
            f"{base_url}/api/v1/auth/token/", json={"username": username, "password": password}, timeout=30
        )
        assert response.status_code == 200, response.text
        self.tokens = response.json()
        self.http.headers["Authorization"] = f"Bearer {self.tokens['access']}"

    def call(self, method, path, **kwargs):
        return self.http.request(method, f"{self.base_url}{path}", timeout=60, **kwargs)

    def start(self, *, filename="photo.jpg", content_type="image/jpeg", size, **extra):
        response = self.call(
            "POST", "/api/v1/uploads/", json={"filename": filename, "content_type": content_type, "size": size, **extra}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def legacy_presign(self, content_type="image/jpeg", **params):
        return self.call("GET", "/api/v1/presign/", params={"content_type": content_type, **params})

    def get(self, upload_id):
        return self.call("GET", f"/api/v1/uploads/{upload_id}/").json()


def log_in(page, base_url, username, password):
    """Sign in through the form, then wait until the upload page's script has set it up (a file
    chosen before that would go unnoticed, as it would for a person)."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    page.locator("#uploader[data-ready]").wait_for()


class TcpSwitch:
    """A TCP forwarder to `target` ("host:port") that can be switched off and on: while off, every
    connection is accepted and closed at once, as an endpoint that is briefly unreachable looks to
    a client. Give a process `url` instead of the real endpoint to cut only its link."""

    def __init__(self, target):
        host, port = target.rsplit(":", 1)
        self._target = (host, int(port))
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self.on = True
        self.refused = 0  # connections closed while switched off
        self._open = set()  # live connections: cut too when switched off (clients keep them alive)
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self):
        self.on = False
        for end in list(self._open):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def restore(self):
        self.on = True

    def _accept(self):
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:  # closed
                return
            if not self.on:
                client.close()
                self.refused += 1
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)  # a long poll may rightly be silent for longer than that
            self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                self._open.discard(end)
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self):
        self._server.close()


def start_gunicorn(tmp_path, name, environment, *args):
    """A gunicorn web server on a free port, in a session of its own; as production runs it (from
    config/gunicorn.py, one worker unless WEB_CONCURRENCY says) unless `args` give its command
    line instead. Returns (proc, base, log)."""
    port = localaws.free_port()
    options = list(args) or ["-c", "config/gunicorn.py"]
    env = {"WEB_CONCURRENCY": "1", **environment}  # --bind below outranks the config file's
    log = tmp_path / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *options, "--bind", f"127.0.0.1:{port}", "config.wsgi"],
            env=env,
            cwd=PROJECT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, f"http://127.0.0.1:{port}", log


def answering(proc, base, log):
    """The server's /healthz status, or None while it is not listening yet; fails if it died."""
    assert proc.poll() is None, log.read_text()
    try:
        return requests.get(f"{base}/healthz", timeout=5, headers={"X-Forwarded-Proto": "https"}).status_code
    except (requests.ConnectionError, requests.Timeout):
        return None


def stop_gunicorn(proc):
    """SIGTERM to the master; its workers and all go if it has not ended within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the master and its workers: none left holding the database
        proc.wait()


def child_pids(pid):
    """The processes whose parent is `pid` (a worker's pool processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def started_at(pid):
    """When `pid` started (clock ticks since boot), or None when it does not run (a zombie, dead
    but not yet reaped, does not run): with the pid, it names one process, not a reused number."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


def alive(pid):
    return started_at(pid) is not None


def kill_and_wait(pids, timeout=15.0):
    """SIGKILL each of `pids` still running and wait until none runs."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"processes {pids} outlived SIGKILL"
        time.sleep(0.05)
