"""What the security review changed in the browser: a legacy row with no size no longer stops the
list from drawing, and the pages run under the Content Security Policy without a violation."""

import pytest
import requests

from uploader import services

from ..factories import jpeg_bytes, make_user
from ..helpers import ApiUser, log_in

pytestmark = pytest.mark.e2e


def _console_errors(page):
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.context.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.context.on("console", lambda m: errors.append(f"{m.text} @ {m.location}") if m.type == "error" else None)
    return errors


def test_a_legacy_upload_with_no_size_does_not_break_the_list(page, live_server, worker):
    user = make_user("lee", "pw-lee-12345")
    ApiUser(live_server.url, "lee", "pw-lee-12345").legacy_presign().raise_for_status()  # size: null, pending
    body = jpeg_bytes()
    started = services.upload_start(owner=user, filename="known.jpg", content_type="image/jpeg", size=len(body))
    upload = started.instruction["upload"]
    requests.put(upload["url"], data=body, headers=upload["headers"], timeout=30).raise_for_status()
    errors = _console_errors(page)

    log_in(page, live_server.url, "lee", "pw-lee-12345")
    page.locator('tr[data-status="available"]').wait_for(timeout=30_000)
    rows = page.locator("#upload-rows tr[data-id]")
    assert rows.count() == 2
    pending = page.locator('tr[data-status="pending"]')
    assert pending.locator("td").nth(3).inner_text() == ""  # no size known yet: nothing, not "NaN"
    assert not errors, errors


def test_pages_run_under_the_content_security_policy(page, live_server, aws_resources):
    make_user("root", "pw-root-12345", is_staff=True, is_superuser=True)
    errors = _console_errors(page)
    response = page.goto(f"{live_server.url}/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    log_in(page, live_server.url, "root", "pw-root-12345")
    page.locator("#dropzone").wait_for()
    for path in ("/admin/", "/admin/uploader/upload/", "/api/v1/docs/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    # Swagger UI, served from the project, drew the API's operations.
    assert page.locator(".opblock").count() >= 10
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
