"""HTTP to the API with JWTs: log in, keep the pair on disk, refresh once when the access token
has expired."""

import json
import logging
import os
import time
from pathlib import Path

import requests

log = logging.getLogger("uploader.client")


class ApiError(Exception):
    def __init__(self, status, body):
        body = body if isinstance(body, dict) else {}
        super().__init__(f"{status}: {body.get('detail') or 'request failed'}")
        self.status, self.code = status, body.get("code")


def config_dir():
    return Path(os.environ.get("UPLOADER_CLIENT_HOME") or Path.home() / ".config" / "uploader-client")


DEFAULT_SERVER = "http://127.0.0.1:8000"


class Session:
    """`server` None means the one the last `login` used (kept with the tokens), else the default."""

    def __init__(self, server=None, home=None):
        self.home = Path(home or config_dir())
        self.http = requests.Session()
        self._tokens_path = self.home / "tokens.json"
        saved = json.loads(self._tokens_path.read_text()) if self._tokens_path.exists() else {}
        self.server = (server or saved.get("server") or DEFAULT_SERVER).rstrip("/")
        # Tokens belong to the server that issued them: another server gets none of them.
        self.tokens = (
            {k: saved[k] for k in ("access", "refresh") if k in saved}
            if saved.get("server", self.server) == self.server
            else {}
        )

    def login(self, username, password):
        response = self.http.post(
            f"{self.server}/api/v1/auth/token/", json={"username": username, "password": password}, timeout=30
        )
        self._save_tokens(self._json(response))

    def logout(self):
        """End the refresh token on the server, then forget the pair here."""
        if self.tokens.get("refresh"):
            response = self.http.post(
                f"{self.server}/api/v1/auth/logout/", json={"refresh": self.tokens["refresh"]}, timeout=30
            )
            if response.status_code != 401:  # 401: it had already ended
                self._json(response)
        self.tokens = {}
        self._tokens_path.unlink(missing_ok=True)

    def _save_tokens(self, tokens):
        self.tokens = tokens
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created private: no moment at which another local user can read the tokens.
        temporary = self._tokens_path.with_suffix(".tmp")
        temporary.unlink(missing_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps({**tokens, "server": self.server}))
        os.replace(temporary, self._tokens_path)

    def _refresh(self):
        response = self.http.post(
            f"{self.server}/api/v1/auth/token/refresh/", json={"refresh": self.tokens.get("refresh", "")}, timeout=30
        )
        if response.status_code == 401:
            raise ApiError(401, {"detail": "Your session has ended: run `python -m uploader.client login` again."})
        self._save_tokens(self._json(response))

    def call(self, method, path, *, json_body=None, params=None, retries=4):
        """One API call: refreshes the token once on 401, retries 429/5xx and lost connections."""
        if not self.tokens:
            raise ApiError(401, {"detail": "Not logged in: run `python -m uploader.client login` first."})
        refreshed = False
        for attempt in range(retries + 1):
            try:
                response = self.http.request(
                    method,
                    f"{self.server}{path}",
                    json=json_body,
                    params=params,
                    timeout=60,
                    headers={"Authorization": f"Bearer {self.tokens['access']}"},
                )
            except requests.ConnectionError as exc:
                if attempt == retries:
                    raise
                self._wait(method, path, f"connection lost ({exc.__class__.__name__})", min(2**attempt, 10))
                continue
            if response.status_code == 401 and not refreshed:
                self._refresh()
                refreshed = True
                continue
            if (response.status_code == 429 or response.status_code >= 500) and attempt < retries:
                delay = float(response.headers.get("Retry-After") or min(2**attempt, 10))
                self._wait(method, path, f"the server answered {response.status_code}", delay)
                continue
            return self._json(response)
        raise ApiError(599, {"detail": "gave up after retries"})

    @staticmethod
    def _wait(method, path, why, delay):
        """Say why a call is tried again (a person watching sees a pause explained), then wait."""
        log.warning("%s %s: %s; retrying in %gs", method, path, why, delay)
        time.sleep(delay)

    @staticmethod
    def _json(response):
        try:
            body = response.json() if response.content else None
        except ValueError:  # not the API answering (a proxy's error page, another server)
            body = {
                "detail": f"the server answered {response.status_code} without JSON; is {response.url} this service?"
            }
            if response.ok:
                raise ApiError(response.status_code, body) from None
        if not response.ok:
            raise ApiError(response.status_code, body)
        return body
