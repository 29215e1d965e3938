"""The reference command-line client against a running server, through the public API only."""

import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from uploader import aws
from uploader.aws import localaws
from uploader.client.session import ApiError, Session
from uploader.client.transfer import Uploader
from uploader.models import Upload

from .factories import jpeg_bytes, make_user
from .helpers import TcpSwitch, change_keeping_size_and_time, s3_operations_on, wait_for

MiB = 1024 * 1024
PROJECT = str(Path(__file__).resolve().parents[1])
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client_cli(live_server, aws_resources, tmp_path):
    make_user("erin", "pw-erin-12345")
    env = {
        **os.environ,
        "UPLOADER_CLIENT_HOME": str(tmp_path / "home"),
        "UPLOADER_SERVER": live_server.url,
        "PYTHONPATH": PROJECT,
    }

    def run(*args, check=True):
        result = subprocess.run(
            [sys.executable, "-m", "uploader.client", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def start(*args):
        return subprocess.Popen(
            [sys.executable, "-m", "uploader.client", *args],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    run("login", "--username", "erin", "--password", "pw-erin-12345")
    run.start = start
    return run


def _zip(path, size):
    path.write_bytes(b"PK\x03\x04" + os.urandom(size - 4))
    return path


def test_upload_list_and_download_small_and_multipart(client_cli, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(200, 100))
    archive = _zip(tmp_path / "archive.zip", 17 * MiB)
    result = client_cli("upload", str(photo), str(archive), "--wait")
    lines = result.stdout.strip().splitlines()
    assert [line.split()[1:] for line in lines] == [["available", "photo.jpg"], ["available", "archive.zip"]]
    assert "part 3 stored" in result.stderr  # archive.zip went as three parts
    big = Upload.objects.get(original_filename="archive.zip")
    assert (big.part_size, big.stored_size) == (8 * MiB, 17 * MiB)
    # Its complete named every part with its SHA-256: S3 checked them as it assembled the file.
    assert {"s3:CompleteMultipartUpload", "s3:ListParts"} & s3_operations_on(big) == {"s3:CompleteMultipartUpload"}

    listing = client_cli("list").stdout
    assert "photo.jpg" in listing and "archive.zip" in listing
    photo_id = lines[0].split()[0]
    client_cli("download", photo_id, "-o", "copy.jpg")
    assert (tmp_path / "copy.jpg").read_bytes() == photo.read_bytes()
    # Named after the upload, a download never overwrites a file of that name (here the original).
    sent, mine = photo.read_bytes(), b"changed since, and not to be lost"
    photo.write_bytes(mine)
    assert client_cli("download", photo_id).stdout.strip() == "saved photo (1).jpg"
    assert client_cli("download", photo_id).stdout.strip() == "saved photo (2).jpg"
    assert photo.read_bytes() == mine
    assert (tmp_path / "photo (1).jpg").read_bytes() == (tmp_path / "photo (2).jpg").read_bytes() == sent
    assert not list(tmp_path.glob("*.part"))


def test_a_destination_and_metadata_go_with_files_and_folders(client_cli, tmp_path):
    photo = tmp_path / "me.jpg"
    photo.write_bytes(jpeg_bytes(64, 64))
    album = tmp_path / "album"
    album.mkdir()
    (album / "a.jpg").write_bytes(jpeg_bytes(32, 32))
    client_cli("upload", str(photo), str(album), "--destination", "avatars", "--meta", "caption=At the lake = fun")
    uploads = Upload.objects.order_by("original_filename")
    assert [(u.original_filename, u.destination, u.metadata) for u in uploads] == [
        ("a.jpg", "avatars", {"caption": "At the lake = fun"}),
        ("me.jpg", "avatars", {"caption": "At the lake = fun"}),
    ]
    assert all(u.key.startswith(f"uploads/avatars/{u.owner_id}/") for u in uploads)
    cv = tmp_path / "cv.pdf"
    cv.write_bytes(b"%PDF-1.4\n%%EOF\n")
    refused = client_cli("upload", str(cv), "--destination", "avatars", check=False)
    assert refused.returncode == 1 and refused.stdout.startswith(f"refused: {cv}: 415: PDFs are not accepted here")
    wrong = client_cli("upload", str(cv), "--meta", "no-equals-sign", check=False)
    assert wrong.returncode == 2 and "write KEY=VALUE" in wrong.stderr


def test_without_login_it_says_so(live_server, tmp_path):
    env = {
        **os.environ,
        "UPLOADER_CLIENT_HOME": str(tmp_path),
        "UPLOADER_SERVER": live_server.url,
        "PYTHONPATH": PROJECT,
    }
    result = subprocess.run(
        [sys.executable, "-m", "uploader.client", "list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "login" in result.stderr


def test_a_killed_upload_resumes_resending_only_parts_not_stored_as_they_are_now(client_cli, tmp_path):
    archive = _zip(tmp_path / "footage.zip", 40 * MiB)  # five parts
    proc = client_cli.start("upload", str(archive), "--concurrency", "1")
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "part 2 stored" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    assert Upload.objects.get().status == "pending"
    # Meanwhile part 1 changed, the file keeping its size and time (a tool that preserves them):
    # the upload must end as the file is now, not as the stored part 1 with the rest.
    change_keeping_size_and_time(archive, 4096)

    result = client_cli("upload", str(archive), "--wait")
    resumed = re.search(r"resuming (\S+): (\d) of 5 parts already stored", result.stderr)
    assert resumed, result.stderr
    already = int(resumed.group(2))  # parts 2 to already + 1: S3 holds them as they are
    assert already >= 1 and "part 1 differs from the stored one" in result.stderr
    sent_again = sorted(int(n) for n in re.findall(r"part (\d) stored", result.stderr))
    assert sent_again == [1, *range(already + 2, 6)]
    upload = Upload.objects.get()
    assert str(upload.id) == resumed.group(1)
    assert (upload.status, upload.stored_size) == ("available", 40 * MiB)
    stored = aws.s3().get_object(Bucket=upload.bucket, Key=upload.key)["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(archive.read_bytes()).digest()


def test_logout_ends_the_refresh_token_on_the_server_and_forgets_it_here(client_cli, tmp_path, live_server):
    import json

    import requests

    tokens = json.loads((tmp_path / "home" / "tokens.json").read_text())
    result = client_cli("logout")
    assert "logged out" in result.stdout
    assert not (tmp_path / "home" / "tokens.json").exists()
    refreshed = requests.post(
        f"{live_server.url}/api/v1/auth/token/refresh/", json={"refresh": tokens["refresh"]}, timeout=10
    )
    assert refreshed.status_code == 401
    assert client_cli("list", check=False).returncode == 1  # and the next command says to log in


def test_the_token_file_is_never_readable_through_an_older_handle(client_cli, tmp_path):
    """Another local user who opened tokens.json while it was readable must not read new tokens
    through that handle: the file is replaced by a new one created 0600, never rewritten in place."""
    path = tmp_path / "home" / "tokens.json"
    path.chmod(0o644)  # say, restored from a careless backup
    with open(path) as spy:
        client_cli("login", "--username", "erin", "--password", "pw-erin-12345")
        assert spy.read() != path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "home").stat().st_mode & 0o077 == 0


def test_part_urls_are_asked_for_in_batches_that_grow_with_the_link_but_never_outlive_their_urls():
    from uploader.client.transfer import MAX_PARTS_PER_REQUEST, SIGN_AHEAD_SECONDS, next_batch

    MiB = 1024 * 1024
    fast, slow = 100e6, 0.5e6  # bytes per second
    batches = [8]
    while len(batches) < 6:
        batches.append(next_batch(batches[-1], rate=fast, part_size=16 * MiB, floor=8))
    assert batches == [8, 16, 32, 64, 100, 100]  # a fast link: 1 GiB (64 parts) in four requests
    assert max(batches) == MAX_PARTS_PER_REQUEST
    # A slow link asks for what it sends before its URLs expire, and never less than it keeps in flight.
    assert next_batch(64, rate=slow, part_size=8 * MiB, floor=8) == 8
    assert next_batch(32, rate=4e6, part_size=8 * MiB, floor=8) == int(4e6 * SIGN_AHEAD_SECONDS // (8 * MiB)) == 28


def _cli(tmp_path, *args, server_env=None):
    env = {**os.environ, "UPLOADER_CLIENT_HOME": str(tmp_path / "home"), "PYTHONPATH": PROJECT}
    env.pop("UPLOADER_SERVER", None)
    if server_env:
        env["UPLOADER_SERVER"] = server_env
    return subprocess.run(
        [sys.executable, "-m", "uploader.client", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_login_remembers_the_server_for_the_readme_s_next_commands(live_server, aws_resources, tmp_path):
    make_user("finn", "pw-finn-12345")
    # `login --server URL`, as the client's help writes it (the option after the command too).
    login = ("login", "--server", live_server.url, "--username", "finn", "--password", "pw-finn-12345")
    logged_in = _cli(tmp_path, *login)
    assert logged_in.returncode == 0, logged_in.stderr
    photo, blob = tmp_path / "photo.jpg", tmp_path / "blob.bin"
    photo.write_bytes(jpeg_bytes())
    blob.write_bytes(b"not a type this server takes")
    # no --server: the one logged in to. A file refused is said, and the next one still goes.
    uploaded = _cli(tmp_path, "upload", str(blob), str(photo))
    assert uploaded.returncode == 1, uploaded.stderr
    refused, sent = uploaded.stdout.splitlines()
    assert refused.startswith(f"refused: {blob}: 415: ") and "application/octet-stream" in refused
    upload_id = sent.split()[0]
    assert Upload.objects.get().original_filename == "photo.jpg"
    assert "photo.jpg" in _cli(tmp_path, "list").stdout
    deleted = _cli(tmp_path, "delete", upload_id)
    assert (deleted.returncode, deleted.stdout.strip()) == (0, f"deleted {upload_id}")
    assert Upload.objects.get(pk=upload_id).status == "deleted"
    assert "photo.jpg" not in _cli(tmp_path, "list").stdout


@pytest.mark.parametrize("case", ["server down", "wrong password", "ended session", "missing file", "not found"])
def test_every_failure_is_one_clear_line_and_a_non_zero_exit(live_server, aws_resources, tmp_path, case):
    make_user("gail", "pw-gail-12345")
    login = ("login", "--username", "gail", "--password", "pw-gail-12345")
    if case == "server down":
        result = _cli(tmp_path, "--server", "http://127.0.0.1:9", *login)
        expected = "cannot reach http://127.0.0.1:9"
    elif case == "wrong password":
        result = _cli(tmp_path, "--server", live_server.url, "login", "--username", "gail", "--password", "nope")
        expected = "401"
    else:
        assert _cli(tmp_path, "--server", live_server.url, *login).returncode == 0
        if case == "ended session":  # tokens the server no longer honours (logged out elsewhere, expired)
            (tmp_path / "home" / "tokens.json").write_text(
                json.dumps({"server": live_server.url, "access": "x.y.z", "refresh": "ended.refresh.token"})
            )
            result, expected = _cli(tmp_path, "list"), "run `python -m uploader.client login` again"
        elif case == "missing file":
            result, expected = _cli(tmp_path, "upload", str(tmp_path / "nowhere.jpg")), "No such file or directory"
        else:
            result, expected = _cli(tmp_path, "delete", "00000000-0000-0000-0000-000000000000"), "404"
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr


def test_the_cli_rides_out_lost_connections_to_the_api_and_to_storage(live_server, aws_resources, settings, tmp_path):
    """Both links drop while an upload starts: the CLI says it retries, waits, and finishes once
    they are back, with one upload on the server."""
    make_user("hana", "pw-hana-12345")
    storage = TcpSwitch(os.environ["AWS_ENDPOINT_URL"].removeprefix("http://"))
    api = TcpSwitch(live_server.url.removeprefix("http://"))
    settings.AWS_ENDPOINT_URL_S3 = storage.url  # the server signs part URLs for this link, and calls S3 through it
    try:
        login = ("--server", api.url, "login", "--username", "hana", "--password", "pw-hana-12345")
        assert _cli(tmp_path, *login).returncode == 0
        photo = tmp_path / "photo.jpg"
        photo.write_bytes(jpeg_bytes(300, 200))
        api.cut()
        storage.cut()
        env = {**os.environ, "UPLOADER_CLIENT_HOME": str(tmp_path / "home"), "PYTHONPATH": PROJECT}
        proc = subprocess.Popen(
            [sys.executable, "-m", "uploader.client", "upload", str(photo), "--wait"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: api.refused >= 1, what="the start to be refused")
        api.restore()
        wait_for(lambda: storage.refused >= 1, what="the PUT to be refused")
        storage.restore()
        out, err = proc.communicate(timeout=120)
    finally:
        api.close()
        storage.close()
    assert proc.returncode == 0, err
    assert re.search(r"POST /api/v1/uploads/: connection lost \(ConnectionError\); retrying in \d+s", err), err
    assert re.search(r"photo\.jpg: connection lost \(ConnectionError\); retrying in [\d.]+s \(attempt 2 of 6\)", err)
    upload = Upload.objects.get()
    assert out.split()[:3] == [str(upload.pk), "available", "photo.jpg"]
    assert (upload.status, upload.stored_size) == ("available", photo.stat().st_size)


def test_the_session_refreshes_an_expired_token_and_reads_only_what_the_api_answers(
    live_server, aws_resources, tmp_path
):
    make_user("ivan", "pw-ivan-12345")
    session = Session(live_server.url, home=tmp_path)
    session.login("ivan", "pw-ivan-12345")
    first_refresh = session.tokens["refresh"]
    session.tokens["access"] = "expired.access.token"
    assert session.call("GET", "/api/v1/uploads/")["results"] == []  # 401, refreshed, asked again
    assert (
        json.loads((tmp_path / "tokens.json").read_text())["access"]
        == session.tokens["access"]
        != "expired.access.token"
    )
    with pytest.raises(ApiError, match=r"without JSON; is .* this service"):
        session.call("GET", "/accounts/login/")  # a page, not the API
    with pytest.raises(ApiError) as missing:
        session.call("GET", "/no-such-page/")
    assert missing.value.status == 404
    session.logout()
    assert not (tmp_path / "tokens.json").exists()
    session.tokens = {"access": "x.y.z", "refresh": first_refresh}  # a pair that has already ended
    session.logout()  # the server's 401 means it is over already: nothing to report


def test_the_session_retries_a_503_and_reports_it_when_it_persists(live_server, aws_resources, settings, tmp_path):
    make_user("jack", "pw-jack-12345")
    session = Session(live_server.url, home=tmp_path)
    session.login("jack", "pw-jack-12345")
    settings.AWS_ENDPOINT_URL_S3 = f"http://127.0.0.1:{localaws.free_port()}"  # a multipart start needs S3
    big = {"filename": "a.zip", "content_type": "application/zip", "size": 100 * MiB}
    with pytest.raises(ApiError) as refused:
        session.call("POST", "/api/v1/uploads/", json_body=big, retries=1)
    assert (refused.value.status, refused.value.code) == (503, "service_unavailable")
    assert not Upload.objects.exists()


def test_a_part_url_storage_refuses_is_signed_again_and_without_a_new_one_the_error_is_said(tmp_path, aws_resources):
    """The transfer's retry policy against real S3: a 403 (an expired or spoiled URL) is re-signed
    when the caller can sign again, and is final when it cannot."""
    from uploader.aws import signing

    body = b"PK\x03\x04" + b"x" * 100
    good = signing.presign_put(
        bucket="uploads-test", key="uploads/0/retry/a.zip", content_type="application/zip", size=len(body)
    )
    spoiled = {**good, "url": re.sub(r"X-Amz-Signature=[0-9a-f]+", "X-Amz-Signature=" + "0" * 64, good["url"])}
    uploader = Uploader(session=None, attempts=2)
    assert uploader._put(spoiled, body, "a.zip", len(body), retries_resign=lambda: good)
    with pytest.raises(ApiError, match=r"a\.zip: storage answered 403"):
        uploader._put(spoiled, body, "a.zip", len(body), retries_resign=None)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_a_bar_on_a_terminal_and_a_line_per_event_in_a_log():
    from uploader.client.__main__ import Progress

    terminal, log = _Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = Progress(stream)
        progress("photo.jpg", 0, 200, "start")
        progress("photo.jpg", 100, 200, "part 1 stored")
        progress("photo.jpg", 200, 200, "sent")
    assert terminal.getvalue().startswith("\rphoto.jpg")
    assert "[" + "#" * 12 + " " * 13 + "]  50%" in terminal.getvalue() and terminal.getvalue().endswith("\n")
    assert terminal.getvalue().count("\n") == 1  # one bar, redrawn in place
    assert log.getvalue().splitlines()[1].startswith("photo.jpg: part 1 stored (50%, 100/200 bytes")


def test_logging_out_without_a_token_asks_nothing_of_the_server(tmp_path):
    session = Session("http://127.0.0.1:9", home=tmp_path)  # nothing listens there: no call may be made
    session.logout()
    assert session.tokens == {}


def test_a_remembered_upload_that_ended_on_the_server_is_started_again(live_server, aws_resources, tmp_path):
    from uploader.client.transfer import ResumeState

    make_user("kim", "pw-kim-123456")
    session = Session(live_server.url, home=tmp_path)
    session.login("kim", "pw-kim-123456")
    archive = _zip(tmp_path / "old.zip", 17 * MiB)
    uploader = Uploader(session)
    first = session.call(
        "POST",
        "/api/v1/uploads/",
        json_body={"filename": "old.zip", "content_type": "application/zip", "size": 17 * MiB},
    )
    session.call("POST", f"/api/v1/uploads/{first['id']}/abort/")  # it expired meanwhile, say
    ResumeState(tmp_path, archive).save({"id": first["id"]})
    record = uploader.upload(archive)
    assert record["id"] != first["id"]
    assert Upload.objects.get(pk=record["id"]).stored_size == 17 * MiB or record["status"] in (
        "processing",
        "available",
    )
    assert ResumeState(tmp_path, archive).load() is None  # nothing left to resume


def test_a_file_of_up_to_sixteen_parts_is_two_requests_and_a_larger_one_asks_for_the_rest(
    live_server, aws_resources, tmp_path, monkeypatch
):
    """The start carries the part size and the first parts' checksums, so their URLs come with it
    (README, Benchmarks: 1 GiB is a start and a complete); beyond FIRST_BATCH parts the rest are
    asked for as they are hashed."""
    from uploader.client import transfer

    make_user("lee", "pw-lee-123456")
    session = Session(live_server.url, home=tmp_path)
    session.login("lee", "pw-lee-123456")
    asked = []
    session.http.hooks["response"].append(lambda r, *a, **k: asked.append((r.request.method, r.url)))
    for first_batch in (transfer.FIRST_BATCH, 2):
        monkeypatch.setattr(transfer, "FIRST_BATCH", first_batch)
        asked.clear()
        archive = _zip(tmp_path / f"a{first_batch}.zip", 17 * MiB)
        record = Uploader(session).upload(archive)
        upload = Upload.objects.get(pk=record["id"])
        assert (upload.part_size, upload.part_count) == (8 * MiB, 3)
        assert record["status"] in ("processing", "available")
        assert {method for method, _ in asked} == {"POST"}
        assert [url.removeprefix(live_server.url) for _, url in asked] == [
            "/api/v1/uploads/",
            *([f"/api/v1/uploads/{record['id']}/parts/"] if first_batch == 2 else []),
            f"/api/v1/uploads/{record['id']}/complete/",
        ]


def test_a_file_too_large_for_64_mib_parts_is_left_to_the_servers_plan():
    """Above 10,000 parts of 64 MiB (625 GiB) the client chooses no part size (the server would
    refuse it) and hashes nothing before the start: the server plans larger parts."""
    from uploader.client.transfer import part_size_for

    huge = 700 * 1024**3
    assert part_size_for(huge) > 64 * MiB
    assert Uploader(session=None)._first_parts(Path("/nonexistent"), huge) == {}
