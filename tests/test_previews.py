"""What a reviewer sees of a file before judging it (issue 28, point 3): a PDF's first page and
its page count, a larger picture, a text file's first lines, a ZIP's listing; made by the worker
within its limits, hostile files included, and shown escaped in the admin and to the owner."""

import io
import re
import zipfile

import pypdfium2 as pdfium
import pytest
import requests
from PIL import Image

from uploader import services
from uploader.inspection import derivatives
from uploader.models import Upload

from .factories import jpeg_bytes, make_user
from .helpers import put_object, start_upload

LIMITS = derivatives.Limits(thumbnail=320, max_pixels=100_000_000, max_seconds=3 * 3600, time_budget=60, preview=1600)


def _pdf(pages=3, size=(595, 842)):
    """A real PDF (A4 pages) with a filled rectangle on the first page, written by PDFium."""
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(*size)
    out = io.BytesIO()
    document.save(out)
    document.close()
    return out.getvalue()


def _pdf_with_javascript():
    """A one-page PDF whose OpenAction runs JavaScript (a viewer that runs it would alert)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (app.alert('pwned')) >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>",
    ]
    out, offsets = io.BytesIO(b"%PDF-1.4\n"), []
    out.seek(0, 2)
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (n, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _webp_size(data):
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "WEBP"
        return image.size


def test_a_pdf_gives_its_first_page_at_two_sizes_and_its_page_count():
    made = derivatives.make(io.BytesIO(_pdf(pages=3)), kind="pdf", limits=LIMITS)
    assert made.page_count == 3
    assert _webp_size(made.preview)[1] == 1600 and _webp_size(made.thumbnail)[1] == 320  # portrait: height binds
    assert made.width is None  # a page's points are not the upload's pixels


def test_hostile_pdfs_a_script_a_huge_page_count_a_giant_page_and_garbage():
    scripted = derivatives.make(io.BytesIO(_pdf_with_javascript()), kind="pdf", limits=LIMITS)
    assert scripted.page_count == 1 and scripted.thumbnail  # rendered; nothing runs its script
    many = derivatives.make(io.BytesIO(_pdf(pages=5000, size=(100, 100))), kind="pdf", limits=LIMITS)
    assert many.page_count == 5000 and _webp_size(many.preview) == (400, 400)  # one page, enlarged 4x at most
    giant = derivatives.make(io.BytesIO(_pdf(pages=1, size=(14400, 14400))), kind="pdf", limits=LIMITS)
    assert _webp_size(giant.preview) == (1600, 1600)  # scaled to fit, never 200 megapixels
    for broken in (b"%PDF-1.7\n" + b"\x00garbage" * 100, _pdf()[:300]):
        with pytest.raises(derivatives.Refused):
            derivatives.make(io.BytesIO(broken), kind="pdf", limits=LIMITS)


def test_a_large_photo_gives_a_larger_picture_for_the_reviewer_and_a_small_one_none():
    made = derivatives.make(io.BytesIO(jpeg_bytes(4000, 3000)), kind="image", limits=LIMITS)
    assert _webp_size(made.preview) == (1600, 1200) and _webp_size(made.thumbnail) == (320, 240)
    small = derivatives.make(io.BytesIO(jpeg_bytes(200, 100)), kind="image", limits=LIMITS)
    assert small.preview is None and _webp_size(small.thumbnail) == (200, 100)


def test_a_text_files_first_lines_in_utf8_or_the_korean_code_page():
    lines = "".join(f"line {n},값 {n}\r\n" for n in range(100))
    made = derivatives.make(io.BytesIO(lines.encode("utf-8-sig")), kind="text", limits=LIMITS)
    assert made.text.splitlines()[:2] == ["line 0,값 0", "line 1,값 1"] and len(made.text.splitlines()) == 30
    excel = "이름,금액\n김민지,12000\n".encode("cp949")  # what Excel saves a Korean CSV as
    assert derivatives.make(io.BytesIO(excel), kind="text", limits=LIMITS).text == "이름,금액\n김민지,12000"
    long_line = derivatives.make(io.BytesIO(b"x" * 100_000), kind="text", limits=LIMITS)
    assert len(long_line.text) == derivatives.TEXT_CHARS


def _zip(entries):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in entries:
            archive.writestr(name, body)
    return out.getvalue()


def test_a_zips_listing_is_bounded_and_counts_the_rest():
    made = derivatives.make(
        io.BytesIO(_zip([("a/notes.txt", b"hi"), ("b.csv", b"x" * 1000)])), kind="archive", limits=LIMITS
    )
    assert made.listing == {"entries": [["a/notes.txt", 2], ["b.csv", 1000]], "count": 2, "total": 1002}
    many = derivatives.make(io.BytesIO(_zip([(f"f{n}.txt", b"") for n in range(500)])), kind="archive", limits=LIMITS)
    assert len(many.listing["entries"]) == derivatives.LISTED_ENTRIES and many.listing["count"] == 500
    with pytest.raises(derivatives.Refused):
        derivatives.make(io.BytesIO(b"PK\x03\x04 not really a zip"), kind="archive", limits=LIMITS)


@pytest.fixture
def staff_client(client):
    client.force_login(make_user("staff", "pw-staff-12345", is_staff=True, is_superuser=True))
    return client


def _available(user, body, name, content_type):
    upload, instruction = start_upload(user, body, name=name, content_type=content_type)
    assert put_object(instruction, body).status_code == 200
    services.upload_verify(upload_id=upload.pk)  # eagerly: verdict, then derivatives
    upload.refresh_from_db()
    return upload


def test_the_reviewer_sees_a_pdfs_first_page_a_texts_lines_escaped_and_a_zips_listing(
    user, transactional_db, aws_resources, staff_client, settings
):
    settings.UPLOADER_DERIVATIVES = True
    pdf = _available(user, _pdf(pages=2), "contract.pdf", "application/pdf")
    text = _available(user, b"<script>alert(1)</script>\nsecond line\n", "notes.txt", "text/plain")
    archive = _available(user, _zip([("<b>bold</b>.txt", b"x")]), "bundle.zip", "application/zip")
    assert (pdf.media_status, pdf.page_count) == ("ready", 2)

    page = staff_client.get(f"/admin/uploader/upload/{pdf.pk}/change/").content.decode()
    shown = re.search(r'<img class="upload-preview pdf-page" src="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert _webp_size(requests.get(shown, timeout=10).content)[1] == 1600 and "2 pages" in page
    page = staff_client.get(f"/admin/uploader/upload/{text.pk}/change/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\nsecond line" in page and "<script>alert(1)" not in page
    page = staff_client.get(f"/admin/uploader/upload/{archive.pk}/change/").content.decode()
    assert "&lt;b&gt;bold&lt;/b&gt;.txt" in page and "1 entry" in page

    # The owner's list shows the first page as its thumbnail, as it does a photo's.
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    mine = api.get(f"/api/v1/uploads/{pdf.pk}/").json()
    assert mine["page_count"] == 2 and _webp_size(requests.get(mine["thumbnail_url"], timeout=10).content)[1] == 320
    assert Upload.objects.get(pk=text.pk).preview_text.startswith("<script>")  # stored as it is, escaped when shown
