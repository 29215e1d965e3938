"""Starting and stopping a local clamd for `runlocal` and the tests (Debian's clamav-daemon).

Development tooling only: the application itself just gets UPLOADER_CLAMD. clamd runs as this
user, on a TCP port of 127.0.0.1, with limits that defeat archive bombs (what exceeds them is
reported, and the verdict treats it as unscannable). Where ClamAV's own signature databases are
missing (`freshclam` fetches them where there is internet; these machines have none), clamd runs on
a small database made here: the EICAR test file and a marker of the project's own, so the scan path
always runs and EICAR is always caught, but nothing else is; `signatures()` says which.
"""

import io
import shutil
import socket
import subprocess
import time
from pathlib import Path

OFFICIAL_DIR = Path("/var/lib/clamav")
OFFICIAL = ("main.cvd", "main.cld", "daily.cvd", "daily.cld")
CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
MARKER = b"UPLOADER-MALWARE-TEST-MARKER-7f3c"  # the project's own test signature
# Bounds on what clamd unpacks: a ZIP bomb stops at these and is reported (AlertExceedsMax).
LIMITS = {
    "StreamMaxLength": "1024M",  # UPLOADER_SCAN_MAX_SIZE's default
    "MaxScanSize": "1024M",
    "MaxFileSize": "1024M",
    "MaxRecursion": "10",
    "MaxFiles": "10000",
    "MaxScanTime": "120000",
}


def installed() -> bool:
    return Path(CLAMD).exists()


def official_signatures() -> bool:
    return any((OFFICIAL_DIR / name).exists() for name in OFFICIAL)


def signature_line(name: str, data: bytes) -> str:
    """A ClamAV body signature (.ndb) matching `data` anywhere in any file, archives unpacked."""
    return f"{name}:0:*:{data.hex()}"


def write_test_database(directory: Path, extra: dict[str, bytes] | None = None) -> Path:
    """The project's own database: EICAR and MARKER, plus any `extra` {name: bytes}."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [signature_line("Uploader.Test.EICAR", EICAR), signature_line("Uploader.Test.Marker", MARKER)]
    lines += [signature_line(name, data) for name, data in (extra or {}).items()]
    path = directory / "uploader-test.ndb"
    path.write_text("\n".join(lines) + "\n")
    return path


def start(*, port: int, data_dir, own_session: bool = False, timeout: float = 120) -> subprocess.Popen:
    """clamd on 127.0.0.1:port, in the foreground, logging under data_dir. Its databases: ClamAV's
    own where installed, else the test database written under data_dir."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    database = OFFICIAL_DIR if official_signatures() else data_dir / "db"
    if database != OFFICIAL_DIR:
        write_test_database(database)
    settings = {
        "Foreground": "yes",
        "TCPSocket": str(port),
        "TCPAddr": "127.0.0.1",
        "DatabaseDirectory": str(database),
        "LogFile": str(data_dir / "clamd.log"),
        "PidFile": str(data_dir / "clamd.pid"),
        "TemporaryDirectory": str(data_dir),
        "ScanArchive": "yes",
        "AlertExceedsMax": "yes",
        "AlertBrokenExecutables": "no",
        "SelfCheck": "0",
        "MaxThreads": "4",
        "ReadTimeout": "120",
        **LIMITS,
    }
    config = data_dir / "clamd.conf"
    config.write_text("".join(f"{key} {value}\n" for key, value in settings.items()))
    with open(data_dir / "clamd.out", "ab") as out:
        proc = subprocess.Popen(
            [CLAMD, "--config-file", str(config)], stdout=out, stderr=subprocess.STDOUT, start_new_session=own_session
        )
    try:
        wait_ready(port, proc=proc, timeout=timeout, log=data_dir / "clamd.log")
    except Exception:
        stop(proc)
        raise
    return proc


def ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"zPING\0")
            return sock.recv(16).startswith(b"PONG")
    except OSError:
        return False


def wait_ready(port: int, *, proc=None, timeout: float = 120, log=None) -> None:
    """Until clamd answers PING (loading a full official database takes tens of seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            said = Path(log).read_text(errors="replace")[-2000:] if log and Path(log).exists() else ""
            raise RuntimeError(f"clamd exited with {proc.returncode}: {said}")
        if ping(port):
            return
        time.sleep(0.2)
    raise TimeoutError(f"clamd on port {port} did not answer in {timeout}s")


def reload(port: int, *, probe: bytes, timeout: float = 60) -> None:
    """Ask clamd to load its databases again (a signature was added) and wait until it finds
    `probe` (bytes the new signature matches): clamd answers RELOADING at once and goes on
    scanning with the old databases until the new ones are loaded."""
    from clamav_client.clamd import ClamdNetworkSocket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"zRELOAD\0")
        sock.recv(64)
    client = ClamdNetworkSocket(port=port, timeout=30)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wait_ready(port, timeout=timeout)
        if next(iter(client.instream(io.BytesIO(probe)).values()))[0] == "FOUND":
            return
        time.sleep(0.2)
    raise TimeoutError(f"clamd on port {port} did not load the new signature in {timeout}s")


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
