"""Where a presign's time goes, in-process: `python -m tests.bench.profile [N]` runs N presigns
(and N calls of the trivial endpoint beside them) through Django's whole request path (middleware,
DRF, the service, the answer) on a scratch SQLite database, and prints cProfile's cumulative view
of the presigns. No emulator: a small file's presign makes no network call.

Not a test; the README's benchmark section quotes what it found.
"""

import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time


def main(count: int = 400) -> None:
    tmp = tempfile.TemporaryDirectory(prefix="uploader-profile-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="tests.bench.settings",
        DATABASE_URL=f"sqlite:///{tmp.name}/profile.sqlite3",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",  # never called: nothing here goes to S3
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        UPLOADER_BUCKET="bench",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from tests.bench.run import _user_and_token

    call_command("migrate", verbosity=0)
    _, token = _user_and_token("profile")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    body = {"filename": "photo.jpg", "content_type": "image/jpeg", "size": 123456}

    def presign():
        response = client.post("/api/v1/uploads/", body, content_type="application/json")
        assert response.status_code == 201, response.content

    def ping():
        assert client.get("/bench/ping/").status_code == 200

    for _ in range(50):  # warm: imports, serializers derived, clients built
        presign(), ping()

    def bare():
        client.post("/bench/presign/", {}, content_type="application/json")

    timings = {"trivial endpoint": [], "presign": [], "bare presign": []}
    for _ in range(5):  # rounds, interleaved: the median of each
        for name, call in zip(timings, (ping, presign, bare), strict=True):
            started = time.process_time()
            for _ in range(count // 5):
                call()
            timings[name].append((time.process_time() - started) / (count // 5) * 1000)
    for name, call in zip(timings, (ping, presign, bare), strict=True):
        print(f"{name:20} {statistics.median(timings[name]):.2f} ms CPU a call, {_python_calls(call)} Python calls")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        presign()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(int(os.environ.get("PROFILE_LINES", "60")))
    tmp.cleanup()


def _python_calls(call, count=100):
    """Python function calls a call makes: a count, unlike CPU time, that a busy shared machine
    does not move (the figure to compare two versions of the code by)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        call()
    profiler.disable()
    return round(pstats.Stats(profiler).total_calls / count)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
