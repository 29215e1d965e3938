"""Helpers the tests import (pytest advises against importing from conftest.py)."""

import time

import requests


def wait_for(predicate, *, timeout=30.0, interval=0.2, what="the condition"):
    """Poll until predicate() is truthy and return its value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(interval)


class ApiUser:
    """A client of a live server, as a mobile app is: a JWT pair from the token endpoint, then
    bearer calls over HTTP."""

    def __init__(self, base_url, username, password):
        self.base_url = base_url
        self.http = requests.Session()
        response = self.http.post(
            f"{base_url}/api/v1/auth/token/", json={"username": username, "password": password}, timeout=30
        )
        assert response.status_code == 200, response.text
        self.tokens = response.json()
        self.http.headers["Authorization"] = f"Bearer {self.tokens['access']}"

    def call(self, method, path, **kwargs):
        return self.http.request(method, f"{self.base_url}{path}", timeout=60, **kwargs)

    def start(self, *, filename="photo.jpg", content_type="image/jpeg", size, **extra):
        response = self.call(
            "POST", "/api/v1/uploads/", json={"filename": filename, "content_type": content_type, "size": size, **extra}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def legacy_presign(self, content_type="image/jpeg", **params):
        return self.call("GET", "/api/v1/presign/", params={"content_type": content_type, **params})

    def get(self, upload_id):
        return self.call("GET", f"/api/v1/uploads/{upload_id}/").json()
