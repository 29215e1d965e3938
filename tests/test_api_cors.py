"""The API's CORS answers over real HTTP (django-cors-headers): an allowed origin's preflight is
answered without authentication, another origin gets no CORS headers, and the rest of the site
none at all."""

import os

import pytest
import requests

pytestmark = pytest.mark.django_db(transaction=True)

ALLOWED = f"http://127.0.0.1:{os.environ.get('UPLOADER_TEST_THIRD_PARTY_PORT', '1')}"
UNLISTED = "https://evil.example"


def _preflight(url, origin, method="GET"):
    return requests.options(
        url,
        timeout=10,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


@pytest.mark.parametrize(
    "path, method",
    [
        ("/api/v1/presign/", "GET"),
        ("/api/v1/uploads/", "POST"),
        ("/api/v1/uploads/00000000-0000-0000-0000-000000000000/", "DELETE"),
    ],
)
def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(live_server, path, method):
    response = _preflight(live_server.url + path, ALLOWED, method)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert method in response.headers["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type"} <= {
        h.strip() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert "Access-Control-Allow-Credentials" not in response.headers  # bearer tokens, never cookies


def test_another_origin_gets_no_cors_headers(live_server):
    preflight = _preflight(live_server.url + "/api/v1/presign/", UNLISTED)
    assert not any(h.lower().startswith("access-control-") for h in preflight.headers)
    answer = requests.get(live_server.url + "/api/v1/uploads/", headers={"Origin": UNLISTED}, timeout=10)
    assert answer.status_code == 401 and "Access-Control-Allow-Origin" not in answer.headers


def test_an_allowed_origin_reads_errors_and_retry_after_too(live_server):
    answer = requests.get(live_server.url + "/api/v1/uploads/", headers={"Origin": ALLOWED}, timeout=10)
    assert answer.status_code == 401
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Retry-After" in answer.headers["Access-Control-Expose-Headers"]


def test_pages_outside_the_api_are_not_opened_to_other_origins(live_server):
    for path in ("/accounts/login/", "/admin/login/", "/"):
        response = requests.get(live_server.url + path, headers={"Origin": ALLOWED}, timeout=10)
        assert "Access-Control-Allow-Origin" not in response.headers, path
