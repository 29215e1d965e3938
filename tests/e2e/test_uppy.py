"""Stock Uppy (`@uppy/core` + `@uppy/aws-s3` from npm, tests/e2e/npm) configured with nothing but
`companionEndpoint`, in a signed-in page of this site: a small file (presigned POST), a file above
Uppy's 100 MiB multipart threshold, and a cancelled multipart upload."""

from pathlib import Path

import pytest

from uploader.models import Upload

from ..factories import jpeg_bytes, make_user
from ..helpers import built_by_npm, log_in, wait_for

pytestmark = pytest.mark.e2e
BUNDLE = Path(__file__).parent / "npm" / "dist" / "uppy.js"
MiB = 1024 * 1024

UPLOAD_WITH_UPPY = """async ([jpeg, bigSize]) => {
    const uppy = new window.Uppy();
    uppy.use(window.AwsS3, {companionEndpoint: `${location.origin}/api/v1/companion`});
    uppy.addFile({name: "사진.jpg", type: "image/jpeg", data: new Blob([new Uint8Array(jpeg)], {type: "image/jpeg"})});
    const big = new Uint8Array(bigSize);
    big.set([0x50, 0x4b, 0x03, 0x04]);  // a zip's signature, then zeros
    uppy.addFile({name: "big.zip", type: "application/zip", data: new Blob([big], {type: "application/zip"})});
    const result = await uppy.upload();
    return {ok: result.successful.map((f) => f.name).sort(), failed: result.failed.map((f) => `${f.name}: ${f.error}`)};
}"""

CANCEL_WITH_UPPY = """async ([bigSize]) => {
    const uppy = new window.Uppy();
    uppy.use(window.AwsS3, {companionEndpoint: `${location.origin}/api/v1/companion`});
    const id = uppy.addFile({name: "cancelled.zip", type: "application/zip",
                             data: new Blob([new Uint8Array(bigSize)], {type: "application/zip"})});
    const started = new Promise((resolve) => uppy.on("upload-progress", resolve));
    uppy.upload().catch(() => {});
    await started;
    uppy.removeFile(id);  // Uppy aborts the multipart upload through DELETE /s3/multipart/{id}
    return id;
}"""


@pytest.fixture
def uppy_page(browser, live_server):
    built_by_npm(BUNDLE)
    make_user("uri", "pw-uri-123")
    context = browser.new_context(bypass_csp=True)  # the test injects Uppy's bundle into our page
    page = context.new_page()
    log_in(page, live_server.url, "uri", "pw-uri-123")
    page.add_script_tag(content=BUNDLE.read_text())
    yield page
    context.close()


def test_stock_uppy_uploads_a_small_and_a_multipart_file(uppy_page, start_worker, settings):
    big_size = 101 * MiB  # Uppy's default goes multipart above 100 MiB
    settings.UPLOADER_LEGACY_MAX_SIZE = 128 * MiB  # the allowance for uploads of undeclared size
    start_worker(UPLOADER_LEGACY_MAX_SIZE=str(128 * MiB))
    result = uppy_page.evaluate(UPLOAD_WITH_UPPY, [list(jpeg_bytes()), big_size])
    assert result == {"ok": ["big.zip", "사진.jpg"], "failed": []}
    photo = Upload.objects.get(original_filename="사진.jpg")
    big = Upload.objects.get(original_filename="big.zip")
    assert big.multipart_upload_id and not photo.multipart_upload_id
    wait_for(lambda: {u.status for u in Upload.objects.all()} == {"available"}, timeout=60, what="both available")
    assert Upload.objects.get(pk=big.pk).stored_size == big_size
    assert photo.key.endswith("/file.jpg")


def test_a_file_cancelled_in_uppy_ends_expired(uppy_page, settings):
    settings.UPLOADER_LEGACY_MAX_SIZE = 128 * MiB
    uppy_page.evaluate(CANCEL_WITH_UPPY, [101 * MiB])
    wait_for(
        lambda: Upload.objects.filter(original_filename="cancelled.zip", status="expired").exists(),
        what="the cancelled upload to expire",
    )
    assert Upload.objects.get(original_filename="cancelled.zip").status_reason == "Aborted by the client."


def test_uppy_past_the_quota_is_refused(uppy_page, settings):
    settings.UPLOADER_USER_QUOTA = 50 * MiB  # less than one upload of undeclared size holds
    result = uppy_page.evaluate(UPLOAD_WITH_UPPY, [list(jpeg_bytes()), 101 * MiB])
    assert result["ok"] == [] and len(result["failed"]) == 2
    assert not Upload.objects.exists()
