"""The bucket's CORS rules admit only the configured origin, as the browser enforces them."""

import contextlib

import pytest
from django.conf import settings

from uploader import aws
from uploader.aws import signing

from ..helpers import wait_for
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
    """A page on an origin the bucket does not admit. The allowed third-party origin's port is
    reserved but unbound until its test, so the OS may hand it out here: keep that one open and
    take another."""
    with contextlib.ExitStack() as servers:
        while (base_url := servers.enter_context(serving(PAGE, "text/html"))) in settings.UPLOADER_CORS_ORIGINS:
            pass
        yield base_url


def _instruction(bucket, name):
    return signing.presign_put(bucket=bucket, key=f"uploads/9/{name}/a.txt", content_type="text/plain", size=19)


def test_only_the_configured_origin_may_put(browser, live_server, other_origin, aws_resources):
    context = browser.new_context()
    page = context.new_page()
    said = []
    page.on("console", lambda message: said.append(message.text))
    page.goto(f"{other_origin}/")
    put = _instruction(aws_resources, "elsewhere")
    assert page.evaluate(PUT_FROM_PAGE, [put["url"], put["headers"]]) == "blocked"
    # Blocked by the bucket's CORS rule (the preflight), not by any network error.
    wait_for(
        lambda: any("blocked by CORS policy" in text for text in said), page=page, what=f"a CORS refusal in {said}"
    )
    with pytest.raises(aws.s3().exceptions.ClientError):
        aws.s3().head_object(Bucket=aws_resources, Key="uploads/9/elsewhere/a.txt")

    page.goto(f"{live_server.url}/accounts/login/")  # the origin the bucket admits
    put = _instruction(aws_resources, "here")
    assert page.evaluate(PUT_FROM_PAGE, [put["url"], put["headers"]]) == "status 200"
    context.close()


ORIGINAL_DESIGN_PAGE = """async ([api, token, bytes]) => {
    // What the original serverless design's page does: ask for a URL, then PUT the file to it.
    const presign = await fetch(`${api}/api/v1/presign/?content_type=image/jpeg`, {
        headers: {Authorization: `Bearer ${token}`},
    });
    const {uploadURL, Key} = await presign.json();
    const put = await fetch(uploadURL, {
        method: "PUT", headers: {"Content-Type": "image/jpeg"}, body: new Uint8Array(bytes),
    });
    return {presign: presign.status, put: put.status, key: Key};
}"""


def test_a_page_on_another_allowed_origin_uploads_through_the_legacy_call(browser, live_server, worker):
    """CORS end to end: the third-party origin is in UPLOADER_CORS_ORIGINS, so the browser lets its
    page read the API's answer (bearer token, no cookies) and PUT to the bucket."""
    import os

    from rest_framework_simplejwt.tokens import AccessToken

    from uploader.models import Upload

    from ..factories import jpeg_bytes, make_user

    user = make_user("dana", "pw-dana-123")
    body = jpeg_bytes()
    with serving(PAGE, "text/html", port=int(os.environ["UPLOADER_TEST_THIRD_PARTY_PORT"])) as origin:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{origin}/")
        result = page.evaluate(ORIGINAL_DESIGN_PAGE, [live_server.url, str(AccessToken.for_user(user)), list(body)])
        context.close()
    assert (result["presign"], result["put"]) == (200, 200)
    upload = Upload.objects.get(owner=user, key=result["key"])
    wait_for(lambda: Upload.objects.get(pk=upload.pk).status == "available", what="the upload to become available")
    assert Upload.objects.get(pk=upload.pk).stored_size == len(body)


def test_a_page_on_an_unlisted_origin_cannot_read_the_api(browser, live_server, other_origin, user_token):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{other_origin}/")
    outcome = page.evaluate(
        """async ([api, token]) => {
        try {
            await fetch(`${api}/api/v1/uploads/`, {headers: {Authorization: `Bearer ${token}`}});
            return "read";
        } catch (error) {
            return error.name;  // the browser withholds the answer: a TypeError, no status at all
        }
    }""",
        [live_server.url, user_token],
    )
    context.close()
    assert outcome == "TypeError"


@pytest.fixture
def user_token(db):
    from rest_framework_simplejwt.tokens import AccessToken

    from ..factories import make_user

    return str(AccessToken.for_user(make_user("erin", "pw-erin-123")))
