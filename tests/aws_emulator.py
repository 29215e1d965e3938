"""pytest plugin (loaded with -p, before Django is set up): the test session runs its own local AWS
emulator on a free port, with its own empty state, and points the settings at it."""

import os
import shutil
import tempfile

import pytest

from uploader.aws import localaws
from uploader.inspection import localclam

_STATE = {}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if early_config.known_args_namespace.help or "--collect-only" in args:
        return
    port = localaws.free_port()
    data_dir = tempfile.mkdtemp(prefix="uploader-aws-")
    _STATE["dir"] = data_dir
    _STATE["proc"] = localaws.start(port=port, data_dir=data_dir)
    # clamd for the malware scan, where clamav-daemon is installed (`make test` installs it):
    # every verdict of the session scans; without it, scanning is off and the scan tests fail.
    if localclam.installed():
        clamd_port = localaws.free_port()
        _STATE["clamd_dir"] = os.path.join(data_dir, "clamd")
        _STATE["clamd"] = localclam.start(port=clamd_port, data_dir=_STATE["clamd_dir"])
        os.environ["UPLOADER_CLAMD"] = f"tcp://127.0.0.1:{clamd_port}"
    live_port = localaws.free_port()
    third_party_port = localaws.free_port()
    # UPLOADER_AWS_CALL_LOG may name where to keep the record, unless this session runs inside
    # another (tests/test_browser_requirement.py), which must not overwrite its parent's.
    nested = "UPLOADER_TEST_SESSION" in os.environ
    calls = (not nested and os.environ.get("UPLOADER_AWS_CALL_LOG")) or os.path.join(data_dir, "aws-calls.jsonl")
    open(calls, "w").close()  # this session's record only
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "UPLOADER_BUCKET": "uploads-test",
            # Every AWS operation by role, for tests/test_least_privilege.py (uploader/aws/callrecord.py).
            "UPLOADER_AWS_CALL_LOG": calls,
            "UPLOADER_TEST_SESSION": str(os.getpid()),
            # The browser tests' live server, and a third-party page's origin (tests/e2e/test_cors.py):
            # the only origins the bucket's and the API's CORS rules admit.
            "DJANGO_LIVE_TEST_SERVER_ADDRESS": f"127.0.0.1:{live_port}",
            "UPLOADER_TEST_THIRD_PARTY_PORT": str(third_party_port),
            "UPLOADER_CORS_ORIGINS": f"http://127.0.0.1:{live_port},http://127.0.0.1:{third_party_port}",
        }
    )


def pytest_unconfigure(config):
    clamd = _STATE.pop("clamd", None)
    if clamd is not None:
        localclam.stop(clamd)
    proc = _STATE.pop("proc", None)
    if proc is not None:
        localaws.stop(proc)
        shutil.rmtree(_STATE.pop("dir"), ignore_errors=True)
