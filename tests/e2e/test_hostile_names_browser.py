"""A file whose name is markup is shown as text on the page, never run."""

import pytest

from ..factories import jpeg_bytes, make_user
from ..helpers import log_in

pytestmark = pytest.mark.e2e
NAME = '<img src=x onerror="window.pwned=1">.jpg'


def test_a_markup_filename_is_text_on_the_page(page, live_server, worker, tmp_path):
    make_user("mallory", "pw-mallory-123")
    path = tmp_path / NAME
    path.write_bytes(jpeg_bytes())
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(page, live_server.url, "mallory", "pw-mallory-123")
    page.set_input_files("#file-input", str(path))
    row = page.locator('tr[data-status="available"]')
    row.wait_for(timeout=30_000)
    assert row.locator(".filename").inner_text() == NAME
    assert page.locator("li.transfer .name").inner_text() == NAME
    assert row.locator(".filename img").count() == 0  # no element was made from the name
    assert page.evaluate("window.pwned") is None and not dialogs
