"""Starting and stopping the local AWS emulator (ministack) for `runlocal` and the tests.

Development tooling only: the application itself knows nothing of the emulator, it just gets an
`AWS_ENDPOINT_URL`. ministack pins its own botocore, so it runs from its own virtualenv.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent  # the checkout (its .venv-ministack)
# MINISTACK_BIN, else this checkout's own virtualenv of it (make install), else one on the PATH
# (a host project that installed the app as a package: `pip install ministack` beside it).
_CHECKOUT_MINISTACK = BASE_DIR / ".venv-ministack" / "bin" / "ministack"
MINISTACK = Path(
    os.environ.get("MINISTACK_BIN")
    or (_CHECKOUT_MINISTACK if _CHECKOUT_MINISTACK.exists() else shutil.which("ministack") or _CHECKOUT_MINISTACK)
)
# Chromium refuses these ports (ERR_UNSAFE_PORT); never put S3 on one.
_UNSAFE_PORTS = {5060, 5061, 6000, 6665, 6666, 6667, 6668, 6669, 6697, 10080}


def free_port():
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _UNSAFE_PORTS:
            return port


def start(*, port, data_dir, log_path=None, own_session=False):
    """Start ministack on 127.0.0.1:port with signatures enforced and state under data_dir. With
    `own_session`, a Ctrl-C at the terminal does not reach it: its starter stops it, last."""
    if not MINISTACK.exists():
        raise FileNotFoundError(f"{MINISTACK} is missing: run `make install` (or pip install ministack)")
    data_dir = Path(data_dir)
    (data_dir / "s3").mkdir(parents=True, exist_ok=True)
    (data_dir / "state").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "AUTH": "true",
        "S3_PERSIST": "1",
        "S3_DATA_DIR": str(data_dir / "s3"),
        "PERSIST_STATE": "1",
        "STATE_DIR": str(data_dir / "state"),
        "IOT_MTLS_ENABLED": "0",
        "SFTP_ENABLED": "0",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    with open(log_path or data_dir / "ministack.log", "ab") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [str(MINISTACK)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir, start_new_session=own_session
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc=proc)
    except Exception:
        stop(proc)
        raise
    return proc


def wait_ready(endpoint, *, proc=None, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the emulator exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/_ministack/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the emulator at {endpoint} did not become ready in {timeout}s")


def stop(proc, timeout=15):
    """SIGTERM, so the emulator saves its state; SIGKILL only if it will not go."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
