"""The bucket's CORS rules admit only the configured origin, as the browser enforces them."""

import pytest

from uploader import signing

from ..static_server import serving

pytestmark = pytest.mark.e2e

PAGE = b"<!doctype html><title>elsewhere</title><p>another site"
PUT_FROM_PAGE = """async ([url, headers]) => {
    try {
        const response = await fetch(url, {method: "PUT", headers, body: "exactly these bytes"});
        return "status " + response.status;
    } catch (error) {
        return "blocked";
    }
}"""


@pytest.fixture
def other_origin():
    with serving(PAGE, "text/html") as base_url:
        yield base_url


def _instruction(bucket, name):
    return signing.presign_put(bucket=bucket, key=f"uploads/9/{name}/a.txt", content_type="text/plain", size=19)


def test_only_the_configured_origin_may_put(browser, live_server, other_origin, aws_resources):
    page = browser.new_context().new_page()
    page.goto(f"{other_origin}/")
    put = _instruction(aws_resources, "elsewhere")
    assert page.evaluate(PUT_FROM_PAGE, [put["url"], put["headers"]]) == "blocked"

    page.goto(f"{live_server.url}/accounts/login/")  # the origin the bucket admits
    put = _instruction(aws_resources, "here")
    assert page.evaluate(PUT_FROM_PAGE, [put["url"], put["headers"]]) == "status 200"
