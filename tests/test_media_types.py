"""One table answers every "what kind of file is this" question (uploader/domain/media_types.py): the
settings' default, the validation, the admin, the worker and the browser read it, and no other
module names a media type of its own."""

import re
from pathlib import Path

from django.conf import settings

from uploader import admin
from uploader.domain import media_types, validation
from uploader.models import Upload

ROOT = Path(settings.BASE_DIR)
TYPE_LITERAL = re.compile(r"""["'](?:image|video|audio|application|text)/[a-z0-9.+-]+["']""")
# Protocol types, not media: what a response or a request body is, and the legacy contract's
# documented default.
PROTOCOL = {'"application/json"', '"application/octet-stream"', '"text/plain"', '"image/jpeg"'}


def test_no_module_outside_the_table_names_a_media_type():
    sources = [
        path
        for path in [*(ROOT / "uploader").rglob("*.py"), *(ROOT / "uploader" / "static" / "uploader").glob("*.js")]
        if path.name != "media_types.py" and "migrations" not in path.parts and "client" not in path.parts
    ]
    named = {
        f"{path.relative_to(ROOT)}: {literal}"
        for path in sources
        for line in path.read_text().splitlines()
        if not line.lstrip().startswith(("#", "//", "*", "/**"))
        for literal in TYPE_LITERAL.findall(line)
        if (literal not in PROTOCOL or (path.suffix == ".js" and literal == '"image/jpeg"'))
        and not (path.name == "recorder.js" and "formats:" in line)  # MediaRecorder's codec choices
    }
    assert named == set()


def test_the_readers_of_the_table_agree_with_it():
    assert [t.content_type for t in media_types.TYPES.values() if t.allowed] == settings.UPLOADER_ALLOWED_TYPES
    assert admin.PLAYABLE == {"video/mp4": "video", "video/quicktime": "video", "video/webm": "video",
                              "audio/mpeg": "audio", "audio/webm": "audio"}  # fmt: skip
    assert "image/svg+xml" not in admin.INLINE_TYPES and "image/webp" in admin.INLINE_TYPES
    assert validation.INLINE_SAFE_TYPES == media_types.INLINE_SAFE_TYPES


def test_what_the_worker_derives_follows_the_table_and_a_family_for_the_rest():
    assert [media_types.derived_kind(t) for t in ("image/heic", "video/webm", "audio/mp4", "text/csv")] == [
        "image", "video", "audio", "text"
    ]  # fmt: skip
    assert media_types.derived_kind("application/zip") == "archive"
    assert media_types.derived_kind("image/svg+xml") == ""  # markup is never decoded
    assert media_types.derived_kind("image/tiff") == "image"  # unknown to the table: by its family
    assert media_types.derived_kind("application/x-msdownload") == ""


def test_the_page_gets_what_its_script_guesses_from(db, client, django_user_model):
    user = django_user_model.objects.create_user("mia", password="pw-mia-12345")
    client.force_login(user)
    served = client.get("/").context["media_types"]
    assert served["extensions"][".jpg"] == "image/jpeg" and served["extensions"][".webm"] == "video/webm"
    assert served["usual"]["audio/webm"] == ".webm" and served["usual"]["audio/mp4"] == ".m4a"
    assert Upload(content_type="image/webp").content_type in served["types"]
