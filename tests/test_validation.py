import pytest

from uploader.domain import validation
from uploader.domain.validation import StoredObject

from .factories import jpeg_bytes, mp4_bytes, photo_with_exif, png_bytes, webm_bytes


def test_policy_refuses_types_not_allowed(settings):
    settings.UPLOADER_ALLOWED_TYPES = ["image/jpeg"]
    with pytest.raises(validation.PolicyError) as info:
        validation.check_policy(content_type="image/png", size=10)
    assert info.value.code == "unsupported_type"


@pytest.mark.parametrize("size, code", [(0, "invalid_size"), (-1, "invalid_size"), (1001, "too_large")])
def test_policy_refuses_bad_sizes(settings, size, code):
    settings.UPLOADER_MAX_SIZE = 1000
    with pytest.raises(validation.PolicyError) as info:
        validation.check_policy(content_type="image/jpeg", size=size)
    assert info.value.code == code


def test_policy_accepts_the_limit_itself(settings):
    settings.UPLOADER_MAX_SIZE = 1000
    assert validation.check_policy(content_type="image/jpeg", size=1000) is None


def _stored(body, content_type="image/jpeg", size=None, checksum=""):
    return StoredObject(
        size=len(body) if size is None else size, content_type=content_type, head=body[:8192], checksum_sha256=checksum
    )


def _verify(body, declared_type="image/jpeg", **kwargs):
    stored = _stored(body, content_type=kwargs.pop("stored_type", declared_type), **kwargs)
    return validation.verify_stored(
        declared_type=declared_type, declared_size=len(body), declared_checksum="", stored=stored
    )


def test_a_real_jpeg_passes():
    assert _verify(jpeg_bytes()) == []


def test_a_png_declared_as_jpeg_is_rejected():
    assert _verify(png_bytes()) == ["Content looks like image/png, not image/jpeg."]


def test_a_script_declared_as_jpeg_is_rejected():
    assert _verify(b"<?php system($_GET['c']); ?>") == ["Content looks like unknown data, not image/jpeg."]


@pytest.mark.parametrize("declared", ["video/webm", "audio/webm"])
def test_webm_is_recognised_by_its_ebml_header(declared):
    assert _verify(webm_bytes(), declared) == []


def test_webm_and_mp4_cannot_pass_for_each_other():
    assert _verify(webm_bytes(), "video/mp4") == ["Content looks like video/webm, not video/mp4."]
    assert _verify(mp4_bytes(), "video/webm") == ["Content looks like video/mp4, not video/webm."]
    assert _verify(mp4_bytes(), "audio/webm") == ["Content looks like video/mp4, not audio/webm."]
    assert _verify(b"\x1a\x45\xdf\xa3" + b"\x00" * 60, "video/webm") == [
        "Content looks like unknown data, not video/webm."  # EBML, but no webm doctype
    ]


@pytest.mark.parametrize(
    "name, declared, ok",
    [
        ("clip.webm", "video/webm", True),
        ("voice.webm", "audio/webm", True),
        ("voice.weba", "audio/webm", True),
        ("clip.mp4", "video/webm", False),
        ("clip.webm", "video/mp4", False),
    ],
)
def test_webm_extensions(name, declared, ok):
    if ok:
        validation.check_filename(name, content_type=declared)
    else:
        with pytest.raises(validation.PolicyError):
            validation.check_filename(name, content_type=declared)


def test_webm_is_allowed_by_default_and_plays_inline():
    for declared in ("video/webm", "audio/webm"):
        validation.check_policy(content_type=declared, size=10)
        assert declared in validation.INLINE_SAFE_TYPES


def test_text_must_not_be_binary():
    assert _verify(b"hello, world\n", "text/plain") == []
    assert _verify(png_bytes(), "text/plain") == ["Content looks like image/png, not text/plain."]
    assert _verify(b"abc\x00def", "text/plain") == ["Content looks like binary data, not text/plain."]


def test_size_and_type_are_checked_against_the_declaration():
    body = jpeg_bytes()
    reasons = _verify(body, size=len(body) + 1, stored_type="image/png")
    assert any("size" in r for r in reasons)
    assert any("type" in r for r in reasons)


def test_checksum_mismatch_is_rejected():
    body = jpeg_bytes()
    stored = _stored(body, checksum="A" * 43 + "=")
    reasons = validation.verify_stored(
        declared_type="image/jpeg", declared_size=len(body), declared_checksum="B" * 43 + "=", stored=stored
    )
    assert reasons == ["Stored SHA-256 checksum differs from the declared one."]


def test_sha256_format():
    assert validation.is_valid_sha256_b64("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=")
    assert not validation.is_valid_sha256_b64("not-base64!")
    assert not validation.is_valid_sha256_b64("aGVsbG8=")


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_filename_is_refused_and_says_so(name):
    with pytest.raises(validation.PolicyError) as refused:
        validation.check_filename(name, content_type="image/jpeg")
    assert (refused.value.code, str(refused.value)) == ("invalid_filename", "Filename refused: it is empty.")


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_a_photo_turned_by_its_exif_orientation_has_the_dimensions_it_is_shown_with():
    assert validation.image_dimensions(photo_with_exif(400, 200)) == (200, 400)  # orientation 6: a quarter turn
    assert validation.image_dimensions(jpeg_bytes(64, 48)) == (64, 48)
    # Only the header's bytes: the EXIF block is read from where it already is, nothing decoded.
    assert validation.image_dimensions(photo_with_exif(400, 200)[:2048]) == (200, 400)
    assert validation.exif_orientation(b"Exif\x00\x00II*\x00garbage") is None  # a broken block turns nothing
