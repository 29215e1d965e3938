"""Korean and English: chosen from Accept-Language or the switcher, everywhere people read."""

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.core import mail

from .factories import make_user

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "uploader" / "locale"
KO = {"HTTP_ACCEPT_LANGUAGE": "ko-KR,ko;q=0.9"}


def _catalogue(domain):
    with open(LOCALE / "ko" / "LC_MESSAGES" / f"{domain}.po", "rb") as f:
        return read_po(f, locale="ko")


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_text_has_a_korean_translation_and_the_compiled_catalogue_matches_it(domain):
    catalogue = _catalogue(domain)
    with open(LOCALE / "ko" / "LC_MESSAGES" / f"{domain}.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    messages = [m for m in catalogue if m.id]
    assert len(messages) > 40
    for message in messages:
        assert "fuzzy" not in message.flags, message.id
        if isinstance(message.id, tuple):
            assert message.string[0], message.id
            assert compiled.ngettext(message.id[0], message.id[1], 2) == message.string[0]
        else:
            assert message.string, f"untranslated: {message.id!r}"
            found = compiled.pgettext(message.context, message.id) if message.context else compiled.gettext(message.id)
            assert found == message.string, f"{domain}.mo is stale: run make messages"
            # The placeholders survive translation.
            assert sorted(re.findall(r"%\(\w+\)[sr]", message.string)) == sorted(
                re.findall(r"%\(\w+\)[sr]", message.id)
            )


def test_every_text_the_page_script_shows_is_in_the_catalogue():
    said = set()
    for script in (Path(settings.BASE_DIR) / "uploader" / "static" / "uploader").glob("*.js"):
        said |= set(re.findall(r'\bgettext\("((?:[^"\\]|\\.)*)"', script.read_text()))
    assert len(said) > 30
    known = {m.id for m in _catalogue("djangojs") if m.id}
    assert said - known == set(), "run make messages"


def test_the_page_speaks_the_language_the_browser_asks_for(client):
    make_user("minji", "pw-minji-123")
    client.login(username="minji", password="pw-minji-123")
    korean = client.get("/", **KO).content.decode()
    assert '<html lang="ko">' in korean
    assert "내 업로드" in korean and "파일 선택" in korean and "Your uploads" not in korean
    assert "사용 가능" in korean  # the status filter's choices
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.8").content.decode()
    assert '<html lang="en">' in english and "Your uploads" in english and "내 업로드" not in english


def test_the_switcher_overrides_the_browsers_language(client):
    make_user("minji", "pw-minji-123")
    client.login(username="minji", password="pw-minji-123")
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'action="/i18n/setlang/"' in page
    assert 'value="ko" lang="ko">한국어</button>' in page  # each language in its own name
    korean_page = client.get("/", **KO).content.decode()
    assert 'value="en" lang="en">English</button>' in korean_page
    response = client.post("/i18n/setlang/", {"language": "ko", "next": "/"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == "/"
    assert "내 업로드" in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_script_catalogue_carries_the_page_scripts_korean():
    from django.test import Client

    script = Client().get("/jsi18n/", **KO).content.decode()
    assert "\\uc77c\\uc2dc \\uc815\\uc9c0" in script or "일시 정지" in script  # "Pause"
    assert "일시 정지" not in Client().get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_api_errors_come_in_the_callers_language(api, settings):
    settings.UPLOADER_ALLOWED_TYPES = ["image/jpeg"]
    body = {"filename": "a.exe", "content_type": "application/x-msdownload", "size": 10}
    korean = api.post("/api/v1/uploads/", body, format="json", **KO)
    assert korean.status_code == 415
    assert korean.json() == {
        "detail": "받지 않는 종류입니다: 프로그램(application/x-msdownload). 받는 종류: 사진.",
        "code": "unsupported_type",
    }
    english = api.post("/api/v1/uploads/", body, format="json")
    assert english.json()["detail"] == "Programs are not accepted here (application/x-msdownload); accepted: photos."
    # DRF's own messages follow too.
    missing = api.post("/api/v1/uploads/", {}, format="json", **KO).json()
    assert missing["code"] == "required" and "필수" in missing["detail"]
    # A body that is not JSON: DRF's parser says so in English only; the sentence is ours.
    broken = api.generic("POST", "/api/v1/uploads/", "{nonsense", content_type="application/json", **KO)
    assert broken.status_code == 400
    assert broken.json() == {
        "detail": "요청 본문이 올바른 JSON이 아닙니다(Expecting property name enclosed in double quotes: line 1 "
        "column 2 (char 1)).",
        "code": "parse_error",
    }
    english = api.generic("POST", "/api/v1/uploads/", "{nonsense", content_type="application/json").json()
    assert english["detail"].startswith("The request body is not valid JSON (Expecting property name")


def test_sign_in_and_sign_up_pages_are_in_the_sites_layout_and_language(client):
    for path in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        page = client.get(path, **KO).content.decode()
        assert '<html lang="ko">' in page, path
        assert "uploader/uploader.css" in page and 'class="account-page"' in page, path
        assert "본문으로 건너뛰기" in page, path  # the site's own header
    assert "로그인" in client.get("/accounts/login/", **KO).content.decode()


def test_e_mails_are_written_in_the_language_of_the_request(client):
    make_user("minji", "pw-minji-123")  # minji@example.com
    response = client.post("/accounts/password/reset/", {"email": "minji@example.com"}, **KO)
    assert response.status_code == 302
    (message,) = mail.outbox
    assert re.search("[가-힣]", message.subject + message.body), message.subject


def test_the_admin_speaks_korean_too(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/admin/uploader/upload/", **KO).content.decode()
    assert "선택한 업로드 승인" in page  # our action's name
    assert "업로드" in page


def test_recorded_reasons_are_shown_in_the_readers_language(api, user):
    import datetime as dt

    from django.utils import timezone

    from uploader.domain import reasons
    from uploader.models import Upload

    recorded = reasons.say(
        reasons.SIZE_DIFFERS % {"size": 12, "declared": 10},
        reasons.OTHER_CONTENT % {"found": "application/x-msdownload", "declared": "image/jpeg"},
        "A sentence no template knows.",
    )
    upload = Upload.objects.create(
        owner=user,
        bucket=settings.UPLOADER_BUCKET,
        key="uploads/x/a.jpg",
        original_filename="a.jpg",
        content_type="image/jpeg",
        size=10,
        status="rejected",
        status_reason=recorded,
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    korean = api.get(f"/api/v1/uploads/{upload.pk}/", **KO).json()["status_reason"]
    assert korean == (
        "저장된 크기 12바이트가 신고한 10바이트와 다릅니다. "
        "내용이 형식과 맞지 않습니다. "
        "보낸 형식은 사진 (image/jpeg)인데 내용은 프로그램 (application/x-msdownload)입니다. "
        "A sentence no template knows."
    )
    # In English too the reader gets kinds, each with its type; the record keeps the terse form.
    english = api.get(f"/api/v1/uploads/{upload.pk}/").json()["status_reason"]
    assert english == recorded.replace(
        "Content looks like application/x-msdownload, not image/jpeg.",
        "The content does not match: sent as Photo (image/jpeg), it is Program (application/x-msdownload).",
    )
    assert english != recorded
    assert Upload.objects.get(pk=upload.pk).status_reason == recorded  # the record keeps one language
