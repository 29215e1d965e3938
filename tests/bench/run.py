"""`make bench`: throughput and cost figures, measured in one run on one local emulator, printed
as ratios (the machines are noisy; ratios travel) and written to var/bench.json.

Not a test: nothing here asserts a number.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid):
    """User+system CPU of a process and its live children (gunicorn master and workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1] is the parent pid
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def _wait_http(url, timeout=30):
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)  # the first request imports and builds clients
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise TimeoutError(url)


class Stack:
    """Emulator + migrated SQLite database + gunicorn, all on loopback, all torn down after."""

    def __enter__(self):
        from uploader import localaws

        self.tmp = tempfile.TemporaryDirectory(prefix="uploader-bench-")
        self.emulator_port, self.web_port = localaws.free_port(), localaws.free_port()
        self.emulator = localaws.start(port=self.emulator_port, data_dir=Path(self.tmp.name) / "aws")
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.bench.settings",
            "DATABASE_URL": f"sqlite:///{self.tmp.name}/bench.sqlite3",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.emulator_port}",
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
            "UPLOADER_BUCKET": "bench",
        }
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("setup_aws", stdout=open(os.devnull, "w"))
        self.web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.web_port}",
             "--workers", "2", "--threads", "4", "--timeout", "600", "--log-level", "warning"],
            env={**self.env, "DJANGO_SETTINGS_MODULE": "tests.bench.settings"}, cwd=BASE_DIR,
        )
        self.url = f"http://127.0.0.1:{self.web_port}"
        try:
            _wait_http(self.url + "/healthz")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        from uploader import localaws

        self.web.terminate()
        self.web.wait(30)
        localaws.stop(self.emulator)
        self.tmp.cleanup()


def _user_and_token(username):
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    user, _ = get_user_model().objects.get_or_create(username=username)
    return user, str(AccessToken.for_user(user))


def _rate(url, headers, *, method="GET", json_body=None, threads=8, per_thread=150):
    """Requests per second from `threads` concurrent clients, and the median latency."""
    import requests

    latencies, errors = [], []

    def client():
        session = requests.Session()
        for _ in range(per_thread):
            started = time.perf_counter()
            response = session.request(method, url, headers=headers, json=json_body, timeout=30)
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 300:
                errors.append(response.status_code)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{url}: {len(errors)} errors, e.g. {errors[0]}")
    return len(latencies) / elapsed, statistics.median(latencies)


def bench_presign(stack):
    _, token = _user_and_token("bench-presign")
    headers = {"Authorization": f"Bearer {token}"}
    ping_rps, _ = _rate(f"{stack.url}/bench/ping/", headers)
    body = {"filename": "photo.jpg", "content_type": "image/jpeg", "size": 123456}
    presign_rps, _ = _rate(f"{stack.url}/api/v1/uploads/", headers, method="POST", json_body=body)
    return {"presign_rps": presign_rps, "trivial_endpoint_rps": ping_rps, "presign_vs_trivial": presign_rps / ping_rps}


def _make_file(path, size):
    with open(path, "wb") as out:
        out.write(b"PK\x03\x04")
        remaining = size - 4
        while remaining:
            block = os.urandom(min(remaining, 8 * MiB))
            out.write(block)
            remaining -= len(block)


def bench_transfer(stack, size=256 * MiB):
    """Own client against boto3's transfer manager; Django CPU per GB, direct against proxied."""
    import boto3.s3.transfer
    import requests

    from uploader import aws
    from uploader.client.session import Session
    from uploader.client.transfer import Uploader

    path = Path(stack.tmp.name) / "bench.zip"
    _make_file(path, size)
    _, token = _user_and_token("bench-transfer")
    session = Session(stack.url, home=Path(stack.tmp.name) / "client")
    session.tokens = {"access": token, "refresh": ""}

    cpu_before = _tree_cpu_seconds(stack.web.pid)
    started = time.perf_counter()
    record = Uploader(session, concurrency=4).upload(path)
    own_seconds = time.perf_counter() - started
    direct_cpu = _tree_cpu_seconds(stack.web.pid) - cpu_before
    assert record["status"] in ("pending", "processing", "available"), record

    config = boto3.s3.transfer.TransferConfig(multipart_chunksize=8 * MiB, max_concurrency=4)
    started = time.perf_counter()
    aws.s3().upload_file(str(path), "bench", "bench/boto3/bench.zip", Config=config)
    boto3_seconds = time.perf_counter() - started

    cpu_before = _tree_cpu_seconds(stack.web.pid)
    started = time.perf_counter()
    with open(path, "rb") as body:
        response = requests.post(f"{stack.url}/bench/proxied/?name=bench.zip", data=body, timeout=600,
                                 headers={"Content-Type": "application/zip"})
    response.raise_for_status()
    proxied_seconds = time.perf_counter() - started
    proxied_cpu = _tree_cpu_seconds(stack.web.pid) - cpu_before
    gb = size / 1e9
    return {
        "file_mib": size // MiB,
        "own_client_mb_s": size / 1e6 / own_seconds,
        "boto3_upload_file_mb_s": size / 1e6 / boto3_seconds,
        "own_vs_boto3": boto3_seconds / own_seconds,
        "proxied_mb_s": size / 1e6 / proxied_seconds,
        "django_cpu_s_per_gb_direct": direct_cpu / gb,
        "django_cpu_s_per_gb_proxied": proxied_cpu / gb,
        "proxied_vs_direct_cpu": proxied_cpu / max(direct_cpu, 1 / CLK_TCK),
    }


def bench_list(stack, sizes=(1_000, 100_000)):
    """The list endpoint's median latency and query count as one user's uploads grow."""
    import datetime as dt

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from rest_framework.test import APIClient

    from uploader.models import Upload

    user, token = _user_and_token("bench-list")
    headers = {"Authorization": f"Bearer {token}"}
    results = {}
    now = timezone.now()
    have = 0
    for size in sizes:
        rows = [
            Upload(owner=user, bucket="bench", key=f"uploads/{user.pk}/{i}/f.jpg", original_filename=f"{i}.jpg",
                   content_type="image/jpeg", size=1000, status="available", stored_size=1000,
                   created_at=now - dt.timedelta(seconds=i), expires_at=now)
            for i in range(have, size)
        ]
        Upload.objects.bulk_create(rows, batch_size=5000)
        have = size
        _, median = _rate(f"{stack.url}/api/v1/uploads/", headers, threads=2, per_thread=40)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/uploads/", HTTP_HOST="127.0.0.1").status_code == 200
        results[f"list_median_ms_at_{size}"] = median * 1000
        results[f"list_queries_at_{size}"] = len(queries)
    results["list_latency_growth"] = results[f"list_median_ms_at_{sizes[-1]}"] / results[f"list_median_ms_at_{sizes[0]}"]
    return results


def bench_events(stack, count=200):
    """S3 event -> SQS -> worker -> database + DynamoDB, against a bare SQS receive-and-delete loop."""
    import requests

    from uploader import aws, mirror, services
    from uploader.models import Upload

    from ..factories import jpeg_bytes

    sqs = aws.sqs()
    scratch = sqs.create_queue(QueueName="bench-bare-loop")["QueueUrl"]
    for _ in range(0, count, 10):
        sqs.send_message_batch(QueueUrl=scratch, Entries=[{"Id": str(j), "MessageBody": "x"} for j in range(10)])
    started, seen = time.perf_counter(), 0
    while seen < count:
        batch = sqs.receive_message(QueueUrl=scratch, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=scratch, ReceiptHandle=message["ReceiptHandle"])
        seen += len(batch)
    bare_rate = count / (time.perf_counter() - started)

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "WARNING", "--concurrency", "2",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=stack.env, cwd=BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        user, _ = _user_and_token("bench-events")
        body = jpeg_bytes(32, 32)
        started_uploads = [services.upload_start(owner=user, filename=f"{i}.jpg", content_type="image/jpeg",
                                                 size=len(body)) for i in range(count)]
        put_done = {}

        def put(entry):
            upload, instruction, _ = entry
            requests.put(instruction["upload"]["url"], data=body, headers=instruction["upload"]["headers"], timeout=60)
            put_done[upload.pk] = time.time()

        began = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, started_uploads))
        ids = [u.pk for u, _, _ in started_uploads]
        deadline = time.monotonic() + 300
        while Upload.objects.filter(pk__in=ids, status="available").count() < count:
            if time.monotonic() > deadline:
                raise TimeoutError("events did not settle")
            time.sleep(0.2)
        settled = time.perf_counter() - began
        while any((item := mirror.get(pk)) is None or item["status"]["S"] != "available" for pk in ids[-5:]):
            time.sleep(0.2)
        lags = [u.uploaded_at.timestamp() - put_done[u.pk] for u in Upload.objects.filter(pk__in=ids)]
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    events_rate = count / settled
    return {"events_per_s": events_rate, "bare_sqs_loop_per_s": bare_rate, "events_vs_bare_sqs": events_rate / bare_rate,
            "median_event_lag_ms": statistics.median(lags) * 1000}


def chart(results):
    """A small text chart of the headline ratios, for the README."""
    bars = [
        ("presign / trivial endpoint (req/s)", results["presign_vs_trivial"]),
        ("own client / boto3 upload_file (MB/s)", results["own_vs_boto3"]),
        ("Django CPU proxied / direct (per GB)", results["proxied_vs_direct_cpu"]),
        ("list latency 100k / 1k uploads", results["list_latency_growth"]),
        ("pipeline events / bare SQS loop (msg/s)", results["events_vs_bare_sqs"]),
    ]
    scale = max(v for _, v in bars)
    width = 40
    return "\n".join(f"{label:40} {'█' * max(1, round(width * min(v, scale) / scale)):<{width}} {v:8.2f}x"
                     for label, v in bars)


def main():
    with Stack() as stack:
        results = {}
        for name, bench in [("presign", bench_presign), ("transfer", bench_transfer), ("list", bench_list),
                            ("events", bench_events)]:
            print(f"running {name} ...", flush=True)
            results.update(bench(stack))
    out = BASE_DIR / "var" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    for key, value in results.items():
        print(f"{key:32} {value:12.2f}")
    print()
    print(chart(results))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    main()
