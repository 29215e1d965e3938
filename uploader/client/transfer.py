"""Uploading one file through the public API: a presigned PUT, or parallel multipart parts each
pinned by its SHA-256. An upload killed half-way resumes: the server (S3's own part list) says
which parts are stored, and those whose SHA-256 is still the file's are not sent again.

Why it is long: the start, the parts signed ahead and sent in parallel, their retries and the
resume are one file's journey sharing one set of parts held; split, that set would travel."""

import base64
import hashlib
import json
import mimetypes
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import requests

from uploader.client.session import ApiError, log

MiB = 1024 * 1024
READ_BLOCK = MiB
MAX_PARTS_PER_REQUEST = 100  # the server's limit for one request for part URLs
SIGN_AHEAD_SECONDS = 60  # part URLs live 300 s by default; one that expires is signed again
MULTIPART_FROM = 16 * MiB  # the server's default UPLOADER_MULTIPART_THRESHOLD
# Parts hashed before the start, whose URLs come with it: a file of up to 16 parts (1 GiB) is a
# start and a complete, two requests (README, Benchmarks); the parts of a larger one are asked for
# in doubling batches from here, as they are hashed.
FIRST_BATCH = 16


def part_size_for(size):
    """The part size this client asks for: about 16 parts of 8 to 64 MiB (whole MiB), the
    server's own default plan. Chosen here so that the first parts' checksums, and so their
    URLs, come with the start; the server checks it (8 to 64 MiB, at most 10,000 parts)."""
    part_size = min(max(8 * MiB, -(-size // (16 * MiB)) * MiB), 64 * MiB)
    return max(part_size, -(-size // 10_000))


def next_batch(batch, *, rate, part_size, floor):
    """How many part URLs to ask for next: twice as many as last time, but no more than the parts
    this connection sends in SIGN_AHEAD_SECONDS at the rate seen so far, so a URL is used long
    before it expires. A fast link asks the server for 128 parts in a few requests, a slow one a
    few parts at a time."""
    sendable = int(rate * SIGN_AHEAD_SECONDS // part_size)
    return max(floor, min(batch * 2, sendable, MAX_PARTS_PER_REQUEST))


def sha256_b64(path, offset, length):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(offset)
        while length > 0:
            block = f.read(min(READ_BLOCK, length))
            if not block:
                break
            digest.update(block)
            length -= len(block)
    return base64.b64encode(digest.digest()).decode()


def part_checksums(path, size, part_size, numbers):
    """[{part_number, checksum_sha256}] of these parts of a file of `size` bytes, two hashed at
    once (hashlib lets go of the GIL)."""

    def checksum(n):
        offset = (n - 1) * part_size
        return sha256_b64(path, offset, min(part_size, size - offset))

    with ThreadPoolExecutor(2) as hashers:
        checksums = list(hashers.map(checksum, numbers))
    return [{"part_number": n, "checksum_sha256": c} for n, c in zip(numbers, checksums, strict=True)]


def read_slice(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


class ResumeState:
    """Which upload a local file belongs to, kept until it completes."""

    def __init__(self, home, path):
        stat = path.stat()
        key = hashlib.sha256(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:32]
        self.path = Path(home) / "resume" / f"{key}.json"

    def load(self):
        return json.loads(self.path.read_text()) if self.path.exists() else None

    def save(self, data):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(data))

    def clear(self):
        self.path.unlink(missing_ok=True)


class Uploader:
    def __init__(self, session, *, concurrency=4, progress=None, attempts=6, destination="", metadata=None):
        self.session = session
        # Said with every start: the destination's rules apply, the metadata is kept with the upload.
        self.start_fields = {
            **({"destination": destination} if destination else {}),
            **({"metadata": metadata} if metadata else {}),
        }
        self.concurrency = concurrency
        self.progress = progress
        self.attempts = attempts
        self.http = requests.Session()
        self._lock = threading.Lock()

    def upload(self, path, relative_path=""):
        """Upload `path` (chosen from the folder `relative_path`, if any); returns the upload
        record after `complete`."""
        path = Path(path)
        size = path.stat().st_size
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        state = ResumeState(self.session.home, path)
        remembered = state.load()
        if remembered:
            record = self._resume(remembered, path, size)
            if record is not None:
                state.clear()
                return record
            state.clear()
        first_parts = self._first_parts(path, size)
        started = self.session.call(
            "POST",
            "/api/v1/uploads/",
            json_body={
                "filename": path.name,
                "content_type": content_type,
                "size": size,
                **({"checksum_sha256": sha256_b64(path, 0, size)} if size <= 64 * MiB else {}),
                **first_parts,
                **({"relative_path": relative_path} if relative_path else {}),
                **self.start_fields,
            },
        )
        if "multipart" not in started:
            self._report(path.name, 0, size, "start")
            self._put(started["upload"], read_slice(path, 0, size), path.name, size, retries_resign=None)
            self._report(path.name, size, size, "sent")
            return self.session.call("POST", f"/api/v1/uploads/{started['id']}/complete/")
        state.save({"id": started["id"]})
        plan = started["multipart"]
        # URLs signed for our own cut only (a server that planned its own ignored it).
        signed = plan["parts"] if plan["part_size"] == first_parts.get("part_size") else []
        record = self._send_parts(
            started["id"], path, size, plan["part_size"], plan["part_count"], stored={}, signed=signed
        )
        state.clear()  # completed: nothing to resume (it was left behind before)
        return record

    def _resume(self, remembered, path, size):
        try:
            listing = self.session.call("GET", f"/api/v1/uploads/{remembered['id']}/parts/")
        except ApiError as exc:
            if exc.status in (404, 409):
                return None  # finished, expired or gone: start again
            raise
        stored = self._still_ours(listing, path, size)
        self._report(
            path.name,
            0,
            size,
            f"resuming {remembered['id']}: {len(stored)} of {listing['part_count']} parts already stored",
        )
        return self._send_parts(remembered["id"], path, size, listing["part_size"], listing["part_count"], stored)

    def _still_ours(self, listing, path, size):
        """The stored parts that hold what the file holds now: {part_number: (etag, sha256)}. A
        part is kept only if its SHA-256 is the local slice's; another one (the file changed and
        kept its size and time, or S3 holds no checksum for it) is sent again, so the object
        assembled is the file as it is, not a mix of two versions."""
        part_size = listing["part_size"]
        listed = {p["part_number"]: p for p in listing["parts"]}
        local = {c["part_number"]: c["checksum_sha256"] for c in part_checksums(path, size, part_size, sorted(listed))}
        stored = {}
        for n, part in listed.items():
            if part["checksum_sha256"] and part["checksum_sha256"] == local[n]:
                stored[n] = (part["etag"], part["checksum_sha256"])
            else:
                log.warning("%s: part %d differs from the stored one; sending it again", path.name, n)
        return stored

    def _first_parts(self, path, size):
        """For a file the server will take in parts: the part size chosen, and the SHA-256 of its
        first FIRST_BATCH parts (all of a file up to 1 GiB), to go with the start: their URLs come
        back with it. Hashing them first costs the transfer a fraction of a second (two threads,
        about 2.5 GB/s here) and the server a request."""
        if size <= MULTIPART_FROM:
            return {}
        part_size = part_size_for(size)
        if part_size > 64 * MiB:  # beyond 625 GiB: the server's own plan (larger parts), asked for after
            return {}
        count = min(FIRST_BATCH, -(-size // part_size))
        return {"part_size": part_size, "parts": part_checksums(path, size, part_size, range(1, count + 1))}

    def _send_parts(self, upload_id, path, size, part_size, part_count, stored, signed=()):
        """Send every part not `stored` yet (`signed`: URLs already in hand), then complete, naming
        each part with its ETag and SHA-256 (S3 then checks them as it assembles the file).
        `stored` is {part_number: (etag, checksum_sha256)}."""
        held = dict(stored)
        sent = {"bytes": sum(min(part_size, size - (n - 1) * part_size) for n in stored)}
        in_hand = {target["part_number"] for target in signed}
        todo = [n for n in range(1, part_count + 1) if n not in held and n not in in_hand]
        self._report(path.name, sent["bytes"], size, "start")

        def length(n):
            return min(part_size, size - (n - 1) * part_size)

        def send(n, target):
            body = read_slice(path, (n - 1) * part_size, length(n))
            etag = self._put(
                target,
                body,
                path.name,
                size,
                retries_resign=lambda: self._sign(upload_id, path, size, part_size, [n])[0],
            )
            with self._lock:
                sent["bytes"] += len(body)
                self._report(path.name, sent["bytes"], size, f"part {n} stored")
            return n, (etag, target["headers"].get("x-amz-checksum-sha256", ""))

        in_flight = self.concurrency * 2  # parts queued or being sent; each thread reads its own
        with ThreadPoolExecutor(self.concurrency) as pool:
            pending, batch, position = set(), max(in_flight, FIRST_BATCH), 0
            started, sent_before = time.monotonic(), sent["bytes"]

            def submit(targets):
                nonlocal pending
                for target in targets:
                    while len(pending) >= in_flight:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        held.update(f.result() for f in done)
                    pending.add(pool.submit(send, target["part_number"], target))

            submit(signed)
            while position < len(todo):
                numbers = todo[position : position + batch]
                position += len(numbers)
                submit(self._sign(upload_id, path, size, part_size, numbers))
                rate = (sent["bytes"] - sent_before) / max(time.monotonic() - started, 1e-3)
                batch = next_batch(batch, rate=rate, part_size=part_size, floor=in_flight)
            held.update(future.result() for future in pending)
        parts = [{"part_number": n, "etag": etag, "checksum_sha256": sha} for n, (etag, sha) in sorted(held.items())]
        return self.session.call("POST", f"/api/v1/uploads/{upload_id}/complete/", json_body={"parts": parts})

    def _sign(self, upload_id, path, size, part_size, numbers):
        """Fresh URLs for a batch of parts; each part's SHA-256 becomes part of its signature."""
        parts = part_checksums(path, size, part_size, numbers)
        return self.session.call("POST", f"/api/v1/uploads/{upload_id}/parts/", json_body={"parts": parts})["parts"]

    def _put(self, target, body, name, size, retries_resign):
        """PUT with retries and backoff; a 403 (an expired URL) is re-signed when possible."""
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.http.put(target["url"], data=body, headers=target.get("headers", {}), timeout=300)
                if response.ok:
                    return response.headers.get("ETag", "").strip('"')
                retriable = response.status_code >= 500 or (response.status_code == 403 and retries_resign)
                error = f"storage answered {response.status_code}"
            except requests.ConnectionError as exc:
                retriable, error = True, f"connection lost ({exc.__class__.__name__})"
            if not retriable or attempt == self.attempts:
                raise ApiError(502, {"detail": f"{name}: {error}"})
            delay = min(0.5 * 2**attempt, 15)
            log.warning("%s: %s; retrying in %gs (attempt %d of %d)", name, error, delay, attempt + 1, self.attempts)
            time.sleep(delay)
            if retries_resign:
                target = retries_resign()

    def _report(self, name, done, total, event):
        if self.progress:
            self.progress(name, done, total, event)
