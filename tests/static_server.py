"""Tiny HTTP servers on loopback: one answering every GET with the same bytes (a JWKS, a page),
one recording what is POSTed to it (a Sentry)."""

import contextlib
import gzip
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def serving(body, content_type, port=0):
    """Yields the server's base URL while it runs. `body` may be a callable, asked on every request
    (a JWKS that changes during a test); `port` 0 is any free one."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.end_headers()
            self.wfile.write(body() if callable(body) else body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def recording(fail_first=0):
    """A server that answers every POST 200 (the first `fail_first` ones 500) and keeps what it
    received: yields (base URL, list of (path, headers, body)), the body already decompressed
    (gzip or deflate)."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            received.append((self.path, dict(self.headers), body))
            self.send_response(500 if len(received) <= fail_first else 200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
