"""python -m uploader.client [--server URL] login | upload FILE|DIR... | list | download ID | delete ID | logout

`login --server URL` remembers the server; later commands go to it without `--server`."""

import argparse
import functools
import getpass
import logging
import os
import sys
import time
from pathlib import Path

import requests

from uploader.client.folder import FolderUploader
from uploader.client.session import ApiError, Session
from uploader.client.transfer import Uploader


class Progress:
    """A bar on a terminal; one line per event otherwise (for logs, and for the tests)."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.tty = stream, stream.isatty()
        self.started = {}

    def __call__(self, name, done, total, event):
        now = time.monotonic()
        begun, base = self.started.setdefault(name, (now, done))
        speed = (done - base) / (now - begun) / 1e6 if now > begun else 0.0
        percent = 100 * done // total if total else 100
        if self.tty:
            bar = "#" * (percent // 4)
            self.stream.write(f"\r{name[:30]:30} [{bar:25}] {percent:3}% {done / 1e6:9.1f} MB {speed:7.1f} MB/s")
            if done >= total and event != "start":
                self.stream.write("\n")
        else:
            self.stream.write(f"{name}: {event} ({percent}%, {done}/{total} bytes, {speed:.1f} MB/s)\n")
        self.stream.flush()


def main(argv=None):
    # Retries are said on stderr as they happen, one line each (uploader.client's warnings).
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")
    parser = argparse.ArgumentParser(prog="python -m uploader.client", description=__doc__)
    parser.add_argument(
        "--server",
        default=os.environ.get("UPLOADER_SERVER"),
        help="the service's URL (default: the one you logged in to, else http://127.0.0.1:8000)",
    )
    # Also after the command (`login --server URL`, as this module's docstring writes it).
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--server", default=argparse.SUPPRESS, help="the service's URL, as before the command")
    commands = parser.add_subparsers(dest="command", required=True)
    command = functools.partial(commands.add_parser, parents=[server])
    login = command("login", help="get a JWT pair and keep it for later commands")
    login.add_argument("--username")
    login.add_argument("--password", help="prompted for when left out")
    upload = command(
        "upload",
        help="upload files and folders (a folder's files keep their paths; run again, it resumes and skips "
        "what is already available)",
    )
    upload.add_argument("files", nargs="+", metavar="FILE|DIR")
    upload.add_argument("--concurrency", type=int, default=4, help="parts of one large file sent at once")
    upload.add_argument("--jobs", type=int, default=4, help="files of a folder sent at once")
    upload.add_argument("--wait", action="store_true", help="wait until the worker has decided")
    upload.add_argument("--destination", default="", help="the purpose uploaded for: the server's rules for it apply")
    upload.add_argument(
        "--meta",
        action="append",
        default=[],
        type=_metadata_item,
        metavar="KEY=VALUE",
        help="metadata kept with each upload (repeatable): --meta caption='At the lake' --meta ticket=1234",
    )
    listing = command("list", help="your uploads")
    listing.add_argument("--status")
    download = command("download", help="download one upload")
    download.add_argument("id")
    download.add_argument("-o", "--output")
    delete = command("delete", help="delete one upload (its object, record and mirror)")
    delete.add_argument("id")
    command("logout", help="end the session on the server and forget the tokens here")
    args = parser.parse_args(argv)
    try:
        session = Session(args.server)
        return COMMANDS[args.command](session, args)
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except requests.ConnectionError:
        print(f"error: cannot reach {session.server}: is the server running, and is that its address?", file=sys.stderr)
    except requests.RequestException as exc:
        print(f"error: {exc.__class__.__name__} talking to {session.server}: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    return 1


def _login(session, args):
    username = args.username or input("username: ")
    session.login(username, args.password or getpass.getpass("password: "))
    print(f"logged in to {session.server} as {username}")
    return 0


def _metadata_item(text):
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: write KEY=VALUE")
    return key, value


def _start_fields(args):
    return {"destination": args.destination, "metadata": dict(args.meta)}


def _upload(session, args):
    uploader = Uploader(session, concurrency=args.concurrency, progress=Progress(), **_start_fields(args))
    failed = 0
    for name in args.files:
        if Path(name).is_dir():
            failed += _upload_folder(session, args, Path(name))
            continue
        try:
            record = uploader.upload(name)
        except ApiError as exc:
            if exc.status in (401, 429) or not 400 <= exc.status < 500:
                raise  # the session's or the server's: the next file would fare no better
            print(f"refused: {name}: {exc}")  # this file's: the others still go
            failed += 1
            continue
        while args.wait and record["status"] in ("pending", "processing"):
            time.sleep(1)
            record = session.call("GET", f"/api/v1/uploads/{record['id']}/")
        reason = f" ({record['status_reason']})" if record.get("status_reason") else ""
        print(f"{record['id']} {record['status']} {record['original_filename']}{reason}")
        failed += record["status"] == "rejected"
    return 1 if failed else 0


def _upload_folder(session, args, root):
    """Returns the number of files refused (each listed)."""
    # The batch's line says how far it is.
    quiet = Uploader(session, concurrency=args.concurrency, **_start_fields(args))
    outcome = FolderUploader(session, quiet, jobs=args.jobs).upload(root)
    print(f"{root}: {len(outcome.sent)} sent, {len(outcome.skipped)} already available, {len(outcome.refused)} refused")
    for name, reason in outcome.refused:
        print(f"refused: {name}: {reason}")
    return len(outcome.refused)


def _list(session, args):
    path, params = "/api/v1/uploads/", {"status": args.status} if args.status else None
    while path:
        page = session.call("GET", path, params=params)
        for u in page["results"]:
            print(f"{u['id']}  {u['status']:10} {u['size'] or 0:>12}  {u['content_type']:24} {u['original_filename']}")
        path, params = (page["next"].split(session.server, 1)[-1] if page["next"] else None), None
    return 0


def _download(session, args):
    record = session.call("GET", f"/api/v1/uploads/{args.id}/")
    if not record.get("download_url"):
        print(f"error: the upload is {record['status']}, nothing to download", file=sys.stderr)
        return 1
    output = Path(args.output) if args.output else _free_name(Path(Path(record["original_filename"]).name))
    partial = output.with_name(output.name + ".part")  # the name only once every byte is in
    with requests.get(record["download_url"], stream=True, timeout=300) as response:
        response.raise_for_status()
        with open(partial, "wb") as out:
            for block in response.iter_content(1024 * 1024):
                out.write(block)
    os.replace(partial, output)
    print(f"saved {output}")
    return 0


def _free_name(path):
    """`path`, or, if a file has that name already, `name (1).ext`, `name (2).ext`, ...: a
    download named after the upload never overwrites a file it was not told to (`-o` does)."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
    return candidate


def _delete(session, args):
    session.call("DELETE", f"/api/v1/uploads/{args.id}/")
    print(f"deleted {args.id}")
    return 0


def _logout(session, args):
    session.logout()
    print(f"logged out of {session.server}")
    return 0


COMMANDS = {
    "login": _login,
    "upload": _upload,
    "list": _list,
    "download": _download,
    "delete": _delete,
    "logout": _logout,
}

if __name__ == "__main__":
    sys.exit(main())
