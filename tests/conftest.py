import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from config.celery import worker_command
from uploader import aws
from uploader.aws import localaws, provisioning
from uploader.worker.consumer import EventQueueConsumer

from .factories import make_user
from .helpers import alive, child_pids, database_url, kill_and_wait, purge_queue, started_at, wait_for

BASE_DIR = Path(__file__).resolve().parents[1]
_WHOLE_SUITE = pytest.StashKey[bool]()
_LAST = "tests/test_least_privilege.py"


def pytest_collection_modifyitems(session, config, items):
    """The least-privilege proof reads what every other test made the processes do: it runs last."""
    items.sort(key=lambda item: item.nodeid.startswith(_LAST))


def pytest_deselected(items):
    if items:
        items[0].config.stash[_WHOLE_SUITE] = False


def pytest_collection_finish(session):
    config = session.config
    targets = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    config.stash[_WHOLE_SUITE] = (
        config.stash.get(_WHOLE_SUITE, True)
        and all("::" not in arg for arg in config.args)
        and all(target in (BASE_DIR, BASE_DIR / "tests") for target in targets)
        and not config.getoption("lf", default=False)
        and not os.environ.get("UPLOADER_SKIP_BROWSER")
    )


@pytest.fixture
def whole_suite(request):
    """True when this session runs every test (nothing deselected or skipped on request)."""
    return request.config.stash.get(_WHOLE_SUITE, False)


@pytest.fixture(scope="session")
def aws_resources():
    """The bucket, queues and table, provisioned once on the session's emulator."""
    aws.reset_clients()
    provisioning.deploy()
    purge_queue(settings.UPLOADER_EVENTS_QUEUE)  # the s3:TestEvent from configuring notifications
    return settings.UPLOADER_BUCKET


# Every worker process (main and pool) the session started: none may outlive its test, or it
# would consume the next test's queues (a verdict logged by a worker the test did not start).
_worker_pids: dict[int, int] = {}  # pid: when it started


def _no_worker_left():
    """Ends whatever an earlier test's worker left running (a pool process whose main was killed),
    so that nothing but a test's own workers consumes its queues."""
    leftovers = [pid for pid, started in _worker_pids.items() if started_at(pid) == started]
    if leftovers:
        kill_and_wait(leftovers)
    _worker_pids.clear()


class Worker:
    """A real `celery worker` process on the test database and the session's emulator."""

    def __init__(self, log_path, concurrency=1, args=(), **env):
        self.log_path = log_path
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            **env,
        }
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                worker_command(concurrency, *args),
                env=env,
                cwd=BASE_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90  # a busy 2-core machine can take a while to import it all
        while "consuming S3 events" not in self.log() or "relaying the outbox" not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"the worker did not start:\n{self.log()}")
            time.sleep(0.2)
        self.pids = {self.proc.pid, *child_pids(self.proc.pid)}
        self.pool: list[int] | None = None  # its pool when its shutdown began
        _worker_pids.update({pid: started_at(pid) for pid in self.pids})

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stopping(self):
        """Begin a warm shutdown (the pool as it is now remembered); `stop` waits for it."""
        if self.pool is None:
            self.pool = child_pids(self.proc.pid) if self.proc.poll() is None else []
            self.proc.send_signal(signal.SIGTERM)

    def stop(self):
        """A warm shutdown, then what is left of it (its pool, had its main been killed) ended:
        the worker and every process of it are gone when this returns."""
        self.stopping()
        pool = self.pool
        try:
            # A test's assertions are made: a warm shutdown that has not ended in 6 s (about 3 when
            # idle; 10 and more when a test leaves work queued, as the batch page's 61 photos'
            # derivatives, or on a busy CI machine) is ended, as the next test's start would.
            self.proc.wait(6)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        kill_and_wait([pid for pid in {*pool, *self.pids} if alive(pid) and pid != self.proc.pid])


@pytest.fixture
def start_worker(transactional_db, aws_resources, tmp_path, settings):
    """Start real workers (with extra environment); tasks sent from this process go to them
    through SQS instead of running eagerly, and what transactions owe is left to their relay."""
    from config.celery import app

    settings.UPLOADER_OUTBOX_EAGER = False
    _no_worker_left()
    # A task or an S3 event left by an earlier test (a retry, a late notification) must not be
    # taken for this test's work: each test's workers start on empty queues.
    purge_queue(settings.CELERY_TASK_DEFAULT_QUEUE)
    purge_queue(settings.UPLOADER_EVENTS_QUEUE)
    workers = []

    def start(concurrency=1, args=(), **env):
        worker = Worker(tmp_path / f"worker{len(workers)}.log", concurrency, args, **env)
        workers.append(worker)
        return worker

    app.conf.task_always_eager = False
    try:
        yield start
    finally:
        app.conf.task_always_eager = True
        for worker in workers:  # every one told first: their warm shutdowns (3 s each) overlap
            worker.stopping()
        for worker in workers:
            worker.stop()
            if os.environ.get("UPLOADER_SHOW_WORKER_LOG"):
                print(worker.log())


@pytest.fixture
def redis_url(tmp_path):
    """A Redis server of the test's own, on a free port (production keeps throttle counters there)."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: apt-get install -y redis-server (.ci/run does this)")
    port = localaws.free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([*command, "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    wait_for(lambda: _pings(url), timeout=20, what="redis-server")
    yield url
    server.terminate()
    server.wait(10)


def _pings(url):
    import redis

    try:
        return redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        return False


@pytest.fixture
def worker(start_worker):
    return start_worker().proc


@pytest.fixture
def user(db):
    return make_user()


@pytest.fixture
def other_user(db):
    return make_user("bob", "pw-bob-12345")


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def consumer(aws_resources):
    return EventQueueConsumer()


@pytest.fixture
def drain(start_worker):
    """A real `celery worker` (the event bootstep, the outbox relay, tasks through the broker, as
    production runs) applies what reaches the queues; `drain(done)` waits until `done()` holds."""
    start_worker()

    def _drain(done, timeout=30):
        wait_for(done, timeout=timeout, what="the pipeline to reach the expected state")

    return _drain
