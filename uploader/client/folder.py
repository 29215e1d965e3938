"""Uploading a folder: every file under it, with its relative path kept (`camera/day1`, as the
page's folder picker keeps it), a few files at a time. Small files are started and completed in
the API's batch calls; large ones go through the single-file uploader (parts, resume). A manifest
kept beside the tokens remembers which upload each file became, so the same command run again
after an interruption skips every file already `available` with the same path, size and SHA-256
and sends the rest."""

import hashlib
import json
import mimetypes
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from uploader.client.session import ApiError, log
from uploader.client.transfer import read_slice, sha256_b64

BATCH = 25  # files started per batch call: few enough that their URLs are used long before they expire
SMALL = 8 * 1024 * 1024  # at most this size, a file goes in a batch call and one PUT
SYSTEM_FILES = {".ds_store", "thumbs.db", "desktop.ini"}


@dataclass
class LocalFile:
    path: Path
    folder: str  # relative_path: the top folder's name and the folders below it
    size: int
    checksum: str = ""

    @property
    def name(self) -> str:
        return f"{self.folder}/{self.path.name}"


@dataclass
class Outcome:
    sent: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # (name, reason)


def walk(root: Path) -> list[LocalFile]:
    """The files under `root`, sorted, each with its folder relative to root's parent."""
    found = []
    for directory, folders, names in os.walk(root):
        folders.sort()
        for name in sorted(names):
            path = Path(directory) / name
            if name.lower() in SYSTEM_FILES or not path.is_file():
                continue
            found.append(LocalFile(path, Path(directory).relative_to(root.parent).as_posix(), path.stat().st_size))
    return found


class Manifest:
    """{name: {id, size, sha256}} of one folder's uploads, written after every change."""

    def __init__(self, home: Path, root: Path):
        key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
        self.path = Path(home) / "manifests" / f"{key}.json"
        self.entries = json.loads(self.path.read_text()) if self.path.exists() else {}
        self._lock = threading.Lock()

    def remember(self, local: LocalFile, upload_id: str) -> None:
        with self._lock:
            self.entries[local.name] = {"id": upload_id, "size": local.size, "sha256": local.checksum}
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(self.entries))
            os.replace(temporary, self.path)

    def known(self, local: LocalFile) -> str | None:
        """The upload this file became before, if it is the same file (size and SHA-256)."""
        entry = self.entries.get(local.name)
        if entry and entry["size"] == local.size and entry["sha256"] == local.checksum:
            return entry["id"]
        return None


class BatchProgress:
    """Files done of total, bytes, rate and time left: one line kept up to date on a terminal, one
    line per finished file otherwise."""

    def __init__(self, total_files, total_bytes, stream=sys.stderr):
        self.stream, self.tty = stream, stream.isatty()
        self.total_files, self.total_bytes = total_files, total_bytes
        self.files = self.bytes = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def done(self, local: LocalFile, what: str, sent_bytes: int = 0) -> None:
        with self._lock:
            self.files += 1
            self.bytes += sent_bytes
            self.total_bytes -= local.size - sent_bytes  # what a refused file will not send leaves the total
            seconds = max(time.monotonic() - self.started, 1e-3)
            rate = self.bytes / seconds
            left = (self.total_bytes - self.bytes) / rate if rate else 0
            line = (
                f"[{self.files}/{self.total_files}] {self.bytes / 1e6:.1f} of {self.total_bytes / 1e6:.1f} MB, "
                f"{rate / 1e6:.1f} MB/s, {left:.0f} s left"
            )
            if self.tty:
                self.stream.write(f"\r{line:100}")
                if self.files == self.total_files:
                    self.stream.write("\n")
            else:
                self.stream.write(f"{line}: {local.name} {what}\n")
            self.stream.flush()


class FolderUploader:
    def __init__(self, session, uploader, *, jobs=4, stream=sys.stderr):
        self.session, self.uploader, self.jobs, self.stream = session, uploader, jobs, stream

    def upload(self, root: Path) -> Outcome:
        root = Path(root)
        files = walk(root)
        manifest = Manifest(self.session.home, root)
        for local in files:
            local.checksum = sha256_b64(local.path, 0, local.size)
        outcome = Outcome()
        available = self._available(root.name, manifest, files)
        todo = []
        for local in files:
            if manifest.known(local) in available:
                outcome.skipped.append(local.name)
            elif local.size == 0:
                outcome.refused.append((local.name, "the file is empty"))
            else:
                todo.append(local)
        progress = BatchProgress(len(todo), sum(f.size for f in todo), self.stream)
        small = [f for f in todo if f.size <= SMALL]
        large = [f for f in todo if f.size > SMALL]
        with ThreadPoolExecutor(self.jobs) as pool:
            for start in range(0, len(small), BATCH):
                self._send_batch(pool, small[start : start + BATCH], manifest, progress, outcome)
            futures = {pool.submit(self._send_large, local, manifest): local for local in large}
            for future in as_completed(futures):
                local = futures[future]
                try:
                    future.result()
                    outcome.sent.append(local.name)
                    progress.done(local, "sent", local.size)
                except ApiError as exc:
                    outcome.refused.append((local.name, str(exc)))
                    progress.done(local, "refused")
        return outcome

    def _available(self, top: str, manifest: Manifest, files: list[LocalFile]) -> set[str]:
        """The ids of this folder's uploads that the server says are available (one listing)."""
        if not any(manifest.known(f) for f in files):
            return set()
        ids, path, params = set(), "/api/v1/uploads/", {"path_prefix": top, "status": "available", "page_size": 200}
        while path:
            page = self.session.call("GET", path, params=params)
            ids |= {u["id"] for u in page["results"]}
            path, params = (page["next"].split(self.session.server, 1)[-1] if page["next"] else None), None
        return ids

    def _send_batch(self, pool, chunk, manifest, progress, outcome):
        items = [
            {
                "filename": f.path.name,
                "content_type": mimetypes.guess_type(f.path.name)[0] or "application/octet-stream",
                "size": f.size,
                "checksum_sha256": f.checksum,
                "relative_path": f.folder,
                **self.uploader.start_fields,
            }
            for f in chunk
        ]
        results = self.session.call("POST", "/api/v1/uploads/batch/", json_body={"uploads": items})["results"]
        sending = {}
        for local, result in zip(chunk, results, strict=True):
            if result["status"] != 201:
                outcome.refused.append((local.name, result["error"]["detail"]))
                progress.done(local, "refused")
                continue
            manifest.remember(local, result["upload"]["id"])
            sending[pool.submit(self._put, local, result["upload"])] = local
        completed = []
        for future in as_completed(sending):
            local = sending[future]
            try:
                completed.append(future.result())
                manifest.remember(local, completed[-1])  # a URL that expired made another upload
                outcome.sent.append(local.name)
                progress.done(local, "sent", local.size)
            except ApiError as exc:
                outcome.refused.append((local.name, str(exc)))
                progress.done(local, "failed")
        if completed:
            answers = self.session.call(
                "POST", "/api/v1/uploads/batch/complete/", json_body={"uploads": [{"id": i} for i in completed]}
            )["results"]
            for upload_id, answer in zip(completed, answers, strict=True):
                if answer["status"] >= 300:
                    log.warning("%s: %s", upload_id, answer["error"]["detail"])

    def _put(self, local: LocalFile, started: dict) -> str:
        """One PUT; a URL that expired before its turn (403) is started again, alone."""
        try:
            self.uploader._put(
                started["upload"], read_slice(local.path, 0, local.size), local.name, local.size, retries_resign=None
            )
            return started["id"]
        except ApiError as exc:
            if "403" not in str(exc):
                raise
        self.session.call("POST", f"/api/v1/uploads/{started['id']}/abort/")
        return self.uploader.upload(local.path, relative_path=local.folder)["id"]

    def _send_large(self, local: LocalFile, manifest: Manifest) -> None:
        record = self.uploader.upload(local.path, relative_path=local.folder)
        manifest.remember(local, record["id"])
