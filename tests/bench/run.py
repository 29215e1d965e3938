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


def _tree_cpu_seconds(pid, threads_end=False):
    """CPU of a process and its live children (gunicorn master and workers): the scheduler's
    nanoseconds of every live thread (/proc/<pid>/task/<tid>/schedstat), or, where threads come
    and go (`threads_end`: boto3's transfer threads in the proxied baseline), the processes'
    user+system in clock ticks, which keep what ended threads used but step by 10 ms: too coarse
    for a few requests (and the two kinds of count differ by a few ticks, so they are not mixed)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone
            continue
        if int(entry.name) != pid and int(fields[1]) != pid:  # fields[1] is the parent pid
            continue
        ticks = (int(fields[11]) + int(fields[12])) / CLK_TCK
        if threads_end:
            total += ticks
            continue
        try:
            total += sum(int((task / "schedstat").read_text().split()[0]) for task in (entry / "task").iterdir()) / 1e9
        except (OSError, IndexError, ValueError):
            total += ticks
    return total


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
        from uploader.aws import localaws

        self.tmp = tempfile.TemporaryDirectory(prefix="uploader-bench-")
        self.emulator_port, self.web_port = localaws.free_port(), localaws.free_port()
        self.emulator = localaws.start(port=self.emulator_port, data_dir=Path(self.tmp.name) / "aws")
        from uploader.inspection import localclam

        # The malware scan as production runs it (clamd), where clamav-daemon is installed.
        self.clamd, self.clamd_port = None, localaws.free_port()
        if localclam.installed():
            self.clamd = localclam.start(port=self.clamd_port, data_dir=Path(self.tmp.name) / "clamd")
        self.database = _scratch_database(self.tmp.name)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.bench.settings",
            "DATABASE_URL": self.database,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.emulator_port}",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "UPLOADER_BUCKET": "bench",
            # The page's and Uppy's uploads come from the bench server's origin (bench_page_vs_uppy).
            "UPLOADER_CORS_ORIGINS": f"http://127.0.0.1:{self.web_port}",
            **({"UPLOADER_CLAMD": f"tcp://127.0.0.1:{self.clamd_port}"} if self.clamd else {}),
        }
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("setup_aws", stdout=open(os.devnull, "w"))
        self.web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "600",
                "--log-level",
                "warning",
            ],
            env={**self.env, "DJANGO_SETTINGS_MODULE": "tests.bench.settings"},
            cwd=BASE_DIR,
        )
        self.url = f"http://127.0.0.1:{self.web_port}"
        try:
            _wait_http(self.url + "/healthz")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        from django.db import connections

        from uploader.aws import localaws

        self.web.terminate()
        self.web.wait(30)
        localaws.stop(self.emulator)
        if self.clamd is not None:
            from uploader.inspection import localclam

            localclam.stop(self.clamd)
        connections.close_all()
        _drop_scratch_database(self.database)
        self.tmp.cleanup()


def _scratch_database(tmp, purpose="bench"):
    """SQLite in the run's scratch folder, or, with BENCH_DATABASE_URL (a PostgreSQL server URL),
    a fresh database on that server, as production runs."""
    server = os.environ.get("BENCH_DATABASE_URL")
    if not server:
        return f"sqlite:///{tmp}/{purpose}.sqlite3"
    import psycopg

    name = f"uploader_{purpose}_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server.rsplit('/', 1)[0]}/{name}"


def _drop_scratch_database(url):
    server = os.environ.get("BENCH_DATABASE_URL")
    if not server or url.startswith("sqlite"):
        return
    import psycopg

    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _user_and_token(username):
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    user, _ = get_user_model().objects.get_or_create(username=username)
    return user, str(AccessToken.for_user(user))


def _rate(url, headers, *, method="GET", json_body=None, threads=8, per_thread=150):
    """Requests per second from `threads` concurrent clients, and the median latency. `headers` is
    one dict for all clients, or a list with one per client (many users)."""
    import requests

    latencies, errors = [], []
    per_client = headers if isinstance(headers, list) else [headers] * threads

    def client(headers):
        session = requests.Session()
        for _ in range(per_thread):
            started = time.perf_counter()
            response = session.request(method, url, headers=headers, json=json_body, timeout=30)
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 300:
                errors.append(response.status_code)

    workers = [threading.Thread(target=client, args=(per_client[i],)) for i in range(threads)]
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
    """The presign call against a trivial endpoint with the same authentication (one user's eight
    clients, and eight users), and against a bare presign (one INSERT, one signed URL). Three
    rounds, the order reversed in the middle one, medians: on a shared machine one pass of each,
    one after the other, moved the ratios by a fifth as the machine's speed drifted."""
    body = {"filename": "photo.jpg", "content_type": "image/jpeg", "size": 123456}
    one = {"Authorization": f"Bearer {_user_and_token('bench-presign')[1]}"}
    many = [{"Authorization": f"Bearer {_user_and_token(f'bench-presign-{i}')[1]}"} for i in range(8)]
    steps = {
        "ping_one": lambda: _rate(f"{stack.url}/bench/ping/", one),
        "presign_one": lambda: _rate(f"{stack.url}/api/v1/uploads/", one, method="POST", json_body=body),
        "bare_one": lambda: _rate(f"{stack.url}/bench/presign/", one, method="POST"),
        "ping_many": lambda: _rate(f"{stack.url}/bench/ping/", many),
        "presign_many": lambda: _rate(f"{stack.url}/api/v1/uploads/", many, method="POST", json_body=body),
    }
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for round_ in range(3):
        for name, measure in reversed(steps.items()) if round_ == 1 else steps.items():
            rates[name].append(measure()[0])

    def ratio(of, to):  # each round's own (measured close together), then the median
        return statistics.median(a / b for a, b in zip(rates[of], rates[to], strict=True))

    return {
        "presign_rps": statistics.median(rates["presign_one"]),
        "trivial_endpoint_rps": statistics.median(rates["ping_one"]),
        "bare_presign_rps": statistics.median(rates["bare_one"]),
        "presign_many_users_rps": statistics.median(rates["presign_many"]),
        "trivial_endpoint_many_users_rps": statistics.median(rates["ping_many"]),
        "presign_vs_trivial_one_user": ratio("presign_one", "ping_one"),
        "presign_vs_trivial_many_users": ratio("presign_many", "ping_many"),
        "presign_vs_bare_presign": ratio("presign_one", "bare_one"),
    }


def bench_batch(stack, files=1000, batch=100):
    """Starting a folder's uploads: server CPU and wall time per file, one batch call per 100 files
    against one presign call per file (one client, one user, the same files)."""
    import requests

    _, token = _user_and_token("bench-batch")
    headers = {"Authorization": f"Bearer {token}"}
    item = {"content_type": "image/jpeg", "size": 23456, "relative_path": "camera/day1"}
    session = requests.Session()

    def measure(send):
        cpu_before, started = _tree_cpu_seconds(stack.web.pid), time.perf_counter()
        send()
        return (_tree_cpu_seconds(stack.web.pid) - cpu_before) / files, (time.perf_counter() - started) / files

    def singles():
        for n in range(files):
            body = {**item, "filename": f"IMG_{n:05d}.jpg"}
            response = session.post(f"{stack.url}/api/v1/uploads/", json=body, headers=headers, timeout=30)
            response.raise_for_status()

    def batches():
        for first in range(0, files, batch):
            uploads = [{**item, "filename": f"IMG_{n:05d}.jpg"} for n in range(first, first + batch)]
            response = session.post(
                f"{stack.url}/api/v1/uploads/batch/", json={"uploads": uploads}, headers=headers, timeout=60
            )
            response.raise_for_status()
            assert all(r["status"] == 201 for r in response.json()["results"])

    single_cpu, single_wall = measure(singles)
    batch_cpu, batch_wall = measure(batches)
    return {
        "batch_cpu_ms_per_file": batch_cpu * 1000,
        "single_presign_cpu_ms_per_file": single_cpu * 1000,
        "batch_vs_single_cpu_per_file": batch_cpu / single_cpu,
        "batch_vs_single_wall_per_file": batch_wall / single_wall,
    }


_UPPY_UPLOAD = """async () => {
    const input = document.getElementById("bench-files");
    const uppy = new window.Uppy({autoProceed: false});
    uppy.use(window.AwsS3, {companionEndpoint: `${location.origin}/api/v1/companion`});  // limit: its default
    uppy.addFiles([...input.files].map((f) => ({name: f.name, type: f.type, data: f})));
    const started = performance.now();
    const result = await uppy.upload();
    return {seconds: (performance.now() - started) / 1000, ok: result.successful.length, failed: result.failed.length};
}"""


def bench_page_vs_uppy(stack, files=1000):
    """A folder of small photos through the upload page, and the same files through stock Uppy
    (@uppy/aws-s3 with Companion's routes, its default `limit`) in the same browser and stack:
    wall time from the drop to every file sent, and failures."""
    from playwright.sync_api import sync_playwright

    from ..e2e.conftest import CHROMIUM, CHROMIUM_ARGS
    from ..factories import jpeg_bytes, make_user

    bundle = BASE_DIR / "tests" / "e2e" / "npm" / "dist" / "uppy.js"
    if not bundle.exists() or not Path(CHROMIUM).exists():
        print("  skipped: needs Chromium and the npm bundle (make test builds it)")
        return {}
    make_user("bench-page", "pw-bench-page-1")
    folder = Path(stack.tmp.name) / "camera"
    for kind in ("ours", "uppy"):
        for n in range(files):
            day = folder / kind / f"day{n % 10}"
            day.mkdir(parents=True, exist_ok=True)
            (day / f"IMG_{n:04d}.jpg").write_bytes(jpeg_bytes(60 + n % 90, 40, (n % 256, 80, 160)) + kind.encode())
    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for kind in ("ours", "uppy"):
            context = browser.new_context(bypass_csp=kind == "uppy")
            page = context.new_page()
            page.goto(f"{stack.url}/accounts/login/")
            page.fill("input[name=login]", "bench-page")
            page.fill("input[name=password]", "pw-bench-page-1")
            page.click("main form button[type=submit]")
            page.locator("#uploader[data-ready]").wait_for()
            if kind == "ours":
                started = time.perf_counter()
                page.set_input_files("#folder-input", str(folder / kind))
                page.wait_for_function(
                    "() => document.getElementById('batch')?.dataset.state === 'done'", timeout=900_000
                )
                seconds = time.perf_counter() - started
                failed = int(page.locator("#batch").get_attribute("data-failed"))
            else:
                page.add_script_tag(content=bundle.read_text())
                page.evaluate("() => document.body.append(Object.assign(document.createElement('input'), "
                              "{type: 'file', multiple: true, id: 'bench-files'}))")  # fmt: skip
                page.set_input_files("#bench-files", sorted(str(p) for p in (folder / kind).rglob("*.jpg")))
                outcome = page.evaluate(_UPPY_UPLOAD)
                seconds, failed = outcome["seconds"], outcome["failed"]
            results[kind] = (seconds, failed)
            context.close()
        browser.close()
    return {
        "page_1000_photos_seconds": results["ours"][0],
        "uppy_1000_photos_seconds": results["uppy"][0],
        "page_vs_uppy_wall_time": results["ours"][0] / results["uppy"][0],
        "page_1000_photos_failed": results["ours"][1],
        "uppy_1000_photos_failed": results["uppy"][1],
    }


def _make_file(path, size):
    with open(path, "wb") as out:
        out.write(b"PK\x03\x04")
        remaining = size - 4
        while remaining:
            block = os.urandom(min(remaining, 8 * MiB))
            out.write(block)
            remaining -= len(block)


def bench_transfer(stack, size=1024 * MiB):
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

    # Warm both web processes (S3 client, part signer, serializers) with small multipart uploads,
    # so that what follows is the steady cost of a transfer, not a process's first one.
    warm = [Path(stack.tmp.name) / f"warm-{i}.zip" for i in range(4)]  # one resume state each
    for each in warm:
        _make_file(each, 20 * MiB)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda each: Uploader(session, concurrency=2).upload(each), warm))
    for each in warm:
        each.unlink()

    # The web server's CPU while it serves nothing (its worker loops tick): subtracted from both
    # paths below, so that each counts only what its requests cost.
    cpu_before, idle_started = _tree_cpu_seconds(stack.web.pid, threads_end=True), time.perf_counter()
    time.sleep(10)
    idle_rate = (_tree_cpu_seconds(stack.web.pid, threads_end=True) - cpu_before) / (time.perf_counter() - idle_started)

    cpu_before = _tree_cpu_seconds(stack.web.pid, threads_end=True)
    started = time.perf_counter()
    record = Uploader(session, concurrency=4).upload(path)
    own_seconds = time.perf_counter() - started
    direct_cpu = _tree_cpu_seconds(stack.web.pid, threads_end=True) - cpu_before - idle_rate * own_seconds
    direct_cpu = max(direct_cpu, 1 / CLK_TCK)
    assert record["status"] in ("pending", "processing", "available"), record

    config = boto3.s3.transfer.TransferConfig(multipart_chunksize=8 * MiB, max_concurrency=4)
    started = time.perf_counter()
    aws.s3().upload_file(str(path), "bench", "bench/boto3/bench.zip", Config=config)
    boto3_seconds = time.perf_counter() - started

    cpu_before = _tree_cpu_seconds(stack.web.pid, threads_end=True)
    started = time.perf_counter()
    with open(path, "rb") as body:
        response = requests.post(
            f"{stack.url}/bench/proxied/?name=bench.zip",
            data=body,
            timeout=600,
            headers={"Content-Type": "application/zip"},
        )
    response.raise_for_status()
    proxied_seconds = time.perf_counter() - started
    proxied_cpu = _tree_cpu_seconds(stack.web.pid, threads_end=True) - cpu_before - idle_rate * proxied_seconds
    gb = size / 1e9
    return {
        "file_mib": size // MiB,
        "own_client_mb_s": size / 1e6 / own_seconds,
        "boto3_upload_file_mb_s": size / 1e6 / boto3_seconds,
        "own_vs_boto3": boto3_seconds / own_seconds,
        "proxied_mb_s": size / 1e6 / proxied_seconds,
        "django_cpu_s_per_gb_direct": direct_cpu / gb,
        "django_cpu_s_per_gb_proxied": proxied_cpu / gb,
        "proxied_vs_direct_cpu": proxied_cpu / direct_cpu,
        "web_idle_cpu_s_per_s": idle_rate,
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
            Upload(
                owner=user,
                bucket="bench",
                key=f"uploads/{user.pk}/{i}/f.jpg",
                original_filename=f"{i}.jpg",
                content_type="image/jpeg",
                size=1000,
                status="available",
                stored_size=1000,
                created_at=now - dt.timedelta(seconds=i),
                expires_at=now,
            )
            for i in range(have, size)
        ]
        Upload.objects.bulk_create(rows, batch_size=5000)
        have = size
        with connection.cursor() as cursor:
            # Where the rows came from over months, the database would have fresh statistics
            # (PostgreSQL's autovacuum) and a checkpointed log: not a 100,000-row WAL to read through.
            cursor.execute("ANALYZE")
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _, median = _rate(f"{stack.url}/api/v1/uploads/", headers, threads=2, per_thread=40)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/uploads/", HTTP_HOST="127.0.0.1").status_code == 200
        results[f"list_median_ms_at_{size}"] = median * 1000
        results[f"list_queries_at_{size}"] = len(queries)
    results["list_latency_growth"] = (
        results[f"list_median_ms_at_{sizes[-1]}"] / results[f"list_median_ms_at_{sizes[0]}"]
    )
    return results


class _Worker:
    """A `celery worker` on the bench stack, started and ready (its event consumer and relay up)."""

    def __init__(self, stack, name, env=None):
        from config.celery import worker_command as celery_worker_command

        self.log = Path(stack.tmp.name) / f"{name}.log"
        with open(self.log, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                celery_worker_command(2, "--hostname", f"{name}@bench"),
                env={**stack.env, **(env or {})},
                cwd=BASE_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not all(
            m in self.log.read_text(errors="replace") for m in ("consuming S3 events", "relaying the outbox")
        ):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"worker {name} did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.2)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:  # a worker slow to stop must not hang the bench
            self.proc.kill()
            self.proc.wait()


def _staged_events(user, count, body):
    """`count` uploads whose objects are stored while no worker runs: their S3 event bodies,
    taken off the event queue so that each run below replays exactly the same events."""
    import requests
    from django.conf import settings

    from uploader import aws, services

    started = [
        services.upload_start(owner=user, filename=f"{i}.jpg", content_type="image/jpeg", size=len(body))
        for i in range(count)
    ]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda e: requests.put(
                    e.instruction["upload"]["url"], data=body, headers=e.instruction["upload"]["headers"], timeout=60
                ).raise_for_status(),
                started,
            )
        )
    sqs, queue, bodies = aws.sqs(), aws.queue_url(settings.UPLOADER_EVENTS_QUEUE), []
    deadline = time.monotonic() + 120
    while len(bodies) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            if '"Records"' in message["Body"]:
                bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return [s.upload.pk for s in started], bodies


def _send_all(queue_url, bodies):
    from uploader import aws

    for i in range(0, len(bodies), 10):
        aws.sqs().send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i : i + 10])]
        )


def _bare_pipeline(bodies, threads):
    """The AWS work one upload needs, in a plain boto3 loop with the worker's concurrency: receive
    the event, HEAD, a ranged GET of the first bytes, the DynamoDB conditional put, delete. Returns
    uploads a second and the median seconds from the start to an event's end: what a burst's
    PUT -> available lag would be with no Django, Celery or database at all."""
    from django.conf import settings

    from uploader import aws
    from uploader.domain import events, validation

    sqs, s3, ddb = aws.sqs(), aws.s3(), aws.dynamodb()
    queue = sqs.create_queue(QueueName="bench-bare-pipeline")["QueueUrl"]
    _send_all(queue, bodies)
    done, lock, ended = [0], threading.Lock(), []

    def loop():
        while done[0] < len(bodies):
            for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            ):
                for event in events.parse_message(message["Body"]):
                    head = s3.head_object(Bucket=event.bucket, Key=event.key)
                    s3.get_object(
                        Bucket=event.bucket,
                        Key=event.key,
                        Range=f"bytes=0-{min(head['ContentLength'], validation.SNIFF_BYTES) - 1}",
                    )["Body"].read()
                    ddb.put_item(
                        TableName=settings.UPLOADER_DYNAMODB_TABLE,
                        Item={"id": {"S": f"bare:{event.key}"}, "version": {"N": "2"}},
                        ConditionExpression="attribute_not_exists(id) OR version < :v",
                        ExpressionAttributeValues={":v": {"N": "2"}},
                    )
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                with lock:
                    done[0] += 1
                    ended.append(time.perf_counter())

    started = time.perf_counter()
    runners = [threading.Thread(target=loop) for _ in range(threads)]
    for r in runners:
        r.start()
    for r in runners:
        r.join()
    return len(bodies) / (time.perf_counter() - started), statistics.median(end - started for end in ended)


def _until_available(ids, timeout=300):
    from uploader.models import Upload

    deadline = time.monotonic() + timeout
    # By primary key, statuses counted here: with `status=` in the query SQLite scans the status
    # index (100,000 rows once the list bench has run) and its read lock stalls the worker's commits.
    while (statuses := list(Upload.objects.filter(pk__in=ids).values_list("status", flat=True))).count(
        "available"
    ) < len(ids):
        if time.monotonic() > deadline:
            counts = {s: statuses.count(s) for s in set(statuses)}
            left = Upload.objects.filter(pk__in=ids).exclude(status="available")
            reasons = set(left.values_list("status_reason", "scan_status")[:5])
            raise TimeoutError(f"events did not settle: {counts}, {reasons}")
        time.sleep(0.05)


def _through_workers(stack, ids, bodies, workers, env=None):
    """Uploads/s when `workers` workers, already running, take the same staged events."""
    from django.conf import settings

    from uploader import aws

    running = [_Worker(stack, f"w{i}", env) for i in range(workers)]
    try:
        started = time.perf_counter()
        _send_all(aws.queue_url(settings.UPLOADER_EVENTS_QUEUE), bodies)
        _until_available(ids)
        return len(ids) / (time.perf_counter() - started)
    finally:
        for worker in running:
            worker.stop()


def _lags(stack, user, body, count, burst):
    """Median seconds from a PUT's answer to `available`, for uploads sent one at a time (idle) or
    all at once (burst), through one running worker."""
    import requests

    from uploader import services
    from uploader.models import Upload

    worker = _Worker(stack, "lag")
    try:
        started = [
            services.upload_start(owner=user, filename=f"lag{i}.jpg", content_type="image/jpeg", size=len(body))
            for i in range(count)
        ]
        put_done = {}

        def put(entry):
            upload, instruction = entry.upload, entry.instruction
            requests.put(
                instruction["upload"]["url"], data=body, headers=instruction["upload"]["headers"], timeout=60
            ).raise_for_status()
            put_done[upload.pk] = time.time()
            if not burst:
                _until_available([upload.pk])

        if burst:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(put, started))
        else:
            for entry in started:
                put(entry)
        ids = list(put_done)
        _until_available(ids)
        return statistics.median(u.uploaded_at.timestamp() - put_done[u.pk] for u in Upload.objects.filter(pk__in=ids))
    finally:
        worker.stop()


def _forget_earlier_work():
    """What the earlier parts left owed (the transfer part's 1 GiB uploads to verify and scan:
    the emulator reads a whole object for each ranged GET, so their scan would stall it for
    minutes) is not the pipeline's to measure: the queues are emptied and the outbox too."""
    from django.conf import settings

    from uploader import aws
    from uploader.models import OutboxMessage

    for name in (settings.CELERY_TASK_DEFAULT_QUEUE, settings.UPLOADER_EVENTS_QUEUE):
        aws.sqs().purge_queue(QueueUrl=aws.queue_url(name))
    OutboxMessage.objects.all().delete()


def bench_pipeline(stack, count=200):
    """The S3 event pipeline (event -> worker -> database + DynamoDB) against a bare boto3 pipeline
    doing the same AWS calls, with one and two workers; PUT -> available lag, idle and in a burst."""
    from django.conf import settings

    from ..factories import jpeg_bytes

    _forget_earlier_work()
    user, _ = _user_and_token("bench-pipeline")
    body = jpeg_bytes(32, 32)
    ids, bodies = _staged_events(user, count, body)
    bare, bare_lag = _bare_pipeline(bodies, threads=settings.UPLOADER_EVENTS_CONCURRENCY)
    one = _through_workers(stack, ids, bodies, workers=1)
    ids, bodies = _staged_events(user, count, body)
    two = _through_workers(stack, ids, bodies, workers=2)
    ids, bodies = _staged_events(user, count, body)
    unscanned = _through_workers(stack, ids, bodies, workers=1, env={"UPLOADER_SCANNER": "off"})
    idle = _lags(stack, user, body, count=15, burst=False)
    burst = _lags(stack, user, body, count=count, burst=True)
    return {
        "bare_pipeline_per_s": bare,
        "uploads_per_s_one_worker": one,
        "uploads_per_s_two_workers": two,
        "pipeline_vs_bare_pipeline": one / bare,
        "uploads_per_s_one_worker_scan_off": unscanned,
        "scan_on_vs_off_one_worker": one / unscanned,
        "median_lag_idle_ms": idle * 1000,
        "median_lag_burst_ms": burst * 1000,
        "bare_pipeline_median_lag_burst_ms": bare_lag * 1000,
    }


def _photo(width=4000, height=3000):
    """A 12-megapixel JPEG with a camera's grain (noise over a gradient): a flat colour would
    decode unrealistically fast."""
    import io

    from PIL import Image

    grain = Image.effect_noise((width, height), 24)
    ramp = Image.linear_gradient("L").resize((width, height))
    photo = Image.merge("RGB", (grain, ramp, Image.blend(grain, ramp, 0.5)))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=90)
    return out.getvalue()


def _webm_720p(seconds=60, fps=24):
    """A minute of 720p VP8 at about 2.5 Mbit/s (grain, so the encoder spends its bits), written as
    MediaRecorder writes it (no duration in the header); and the same packets remuxed to a seekable
    file, which has one."""
    import io

    import av
    from PIL import Image

    from ..factories import _Stream

    recorded = _Stream()
    grains = [
        av.VideoFrame.from_image(Image.merge("RGB", [Image.effect_noise((1280, 720), 30 + i)] * 3)) for i in range(8)
    ]
    with av.open(recorded, "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = 1280, 720, "yuv420p", 2_500_000
        stream.options = {"deadline": "realtime", "cpu-used": "8"}
        for i in range(seconds * fps):
            frame = grains[i % len(grains)]
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    seekable = io.BytesIO()
    with av.open(io.BytesIO(recorded.getvalue())) as source, av.open(seekable, "w", format="webm") as target:
        copy = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = copy
                target.mux(packet)
    return recorded.getvalue(), seekable.getvalue()


def bench_media(stack, images=12, videos=3):
    """What the derivatives cost, through the worker's own path (ranged reads of the stored object,
    the thumbnail written through django-storages), in this process: thumbnails a second of a
    12-megapixel JPEG, and seconds per minute of 720p WebM, recorded as MediaRecorder writes it (no
    duration in its header: every packet is read) and with the duration in its header."""
    from django.core.files.base import ContentFile

    from uploader import aws
    from uploader.aws import objects, storage
    from uploader.inspection import derivatives

    limits = derivatives.Limits.from_settings()
    recorded, seekable = _webm_720p()
    files = {"photo": ("image", _photo()), "recorded": ("video", recorded), "seekable": ("video", seekable)}
    for name, (_, body) in files.items():
        aws.s3().put_object(Bucket="bench", Key=f"uploads/bench-media/{name}", Body=body)

    def derive(name):
        kind, body = files[name]
        key = f"uploads/bench-media/{name}"
        with objects.open_stored(bucket="bench", key=key, size=len(body)) as source:
            made = derivatives.make(source, kind=kind, limits=limits)
        storage.derivatives().save(f"bench/{name}.webp", ContentFile(made.thumbnail))
        return made

    def seconds(name, runs):
        derive(name)  # warm: clients, codecs
        started = time.perf_counter()
        for _ in range(runs):
            derive(name)
        return (time.perf_counter() - started) / runs

    return {
        "thumbnails_per_s_12mp_jpeg": 1 / seconds("photo", images),
        "seconds_per_minute_720p_webm": seconds("recorded", videos),
        "seconds_per_minute_720p_webm_with_duration": seconds("seekable", videos),
        "photo_12mp_bytes": len(files["photo"][1]),
        "webm_720p_minute_bytes": len(recorded),
    }


def chart(results):
    """A small text chart of the headline ratios, for the README."""
    bars = [
        ("presign / trivial endpoint, one user", results["presign_vs_trivial_one_user"]),
        ("presign / trivial endpoint, 8 users", results["presign_vs_trivial_many_users"]),
        ("presign / bare presign", results["presign_vs_bare_presign"]),
        ("own client / boto3 upload_file", results["own_vs_boto3"]),
        ("list latency 100k / 1k uploads", results["list_latency_growth"]),
        ("pipeline / bare boto3 pipeline", results["pipeline_vs_bare_pipeline"]),
        ("two workers / one worker", results["uploads_per_s_two_workers"] / results["uploads_per_s_one_worker"]),
    ]
    width = 40
    lines = [f"{label:38} {'█' * max(1, round(width * min(v, 2) / 2)):<{width}} {v:6.2f}x" for label, v in bars]
    lines.append(
        f"{'presign / s3ff initialize, raw / normalised':38} {results['presign_vs_s3ff']:.2f}x / "
        f"{results['presign_vs_s3ff_normalised']:.2f}x"
    )
    lines.append(
        f"{'1 GiB: requests, server CPU vs s3ff':38} {results['requests_per_gib_vs_s3ff']:.2f}x, "
        f"{results['cpu_per_gib_vs_s3ff']:.2f}x"
    )
    lines.append(f"{'Django CPU per GB, proxied / direct':38} {results['proxied_vs_direct_cpu']:.0f}x")
    lines.append(
        f"{'median PUT -> available, idle / burst':38} {results['median_lag_idle_ms']:.0f} ms / "
        f"{results['median_lag_burst_ms']:.0f} ms (bare boto3 loop, burst: "
        f"{results['bare_pipeline_median_lag_burst_ms']:.0f} ms)"
    )
    lines.append(f"{'thumbnails of a 12 MP JPEG':38} {results['thumbnails_per_s_12mp_jpeg']:.1f} a second, one process")
    lines.append(
        f"{'a minute of 720p WebM, recorded / seekable':38} {results['seconds_per_minute_720p_webm']:.2f} s / "
        f"{results['seconds_per_minute_720p_webm_with_duration']:.2f} s"
    )
    return "\n".join(lines)


def machine():
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {sys.version.split()[0]}"


def main():
    from .peer import bench_peer

    with Stack() as stack:
        results = {}
        only = os.environ.get("BENCH_ONLY", "").split(",")  # e.g. BENCH_ONLY=transfer: a quick look, not a record
        for name, bench in [
            ("presign", bench_presign),
            ("peer", bench_peer),
            ("batch", bench_batch),
            ("page", bench_page_vs_uppy),
            ("transfer", bench_transfer),
            ("list", bench_list),
            ("pipeline", bench_pipeline),
            ("media", bench_media),
        ]:
            if only != [""] and name not in only:
                continue
            print(f"running {name} ...", flush=True)
            results.update(bench(stack))
    out = BASE_DIR / "var" / ("bench.json" if only == [""] else "bench-partial.json")
    out.parent.mkdir(exist_ok=True)
    database = "PostgreSQL" if os.environ.get("BENCH_DATABASE_URL") else "SQLite"
    scanner = "clamd" if os.environ.get("UPLOADER_CLAMD") else "off"  # what the pipeline's figures scanned with
    out.write_text(json.dumps({**results, "machine": machine(), "database": database, "scanner": scanner}, indent=2))
    for key, value in results.items():
        print(f"{key:36} {value:12.2f}")
    print(f"\non {machine()}, {database}")
    print()
    if only == [""]:
        print(chart(results))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    main()
