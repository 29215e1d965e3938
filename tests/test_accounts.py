import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_a_signed_out_visit_says_what_the_service_is_and_offers_the_way_in(client):
    for language, sign_in, what in (("en", "Log in", "straight to storage"), ("ko", "로그인", "저장소로 바로")):
        page = client.get("/", HTTP_ACCEPT_LANGUAGE=language)
        assert page.status_code == 200
        text = page.content.decode()
        assert what in text and sign_in in text
        assert 'href="/accounts/login/"' in text and 'href="/accounts/signup/"' in text
        assert 'id="file-input"' not in text  # the uploader itself is for the signed in


def test_a_newcomer_can_sign_up_and_reach_the_uploader(client, mailoutbox):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "dana@example.com",
            "username": "dana",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert get_user_model().objects.filter(username="dana").exists()
    page = client.get("/")
    assert page.status_code == 200
    assert b'id="file-input"' in page.content and b"uploader/home.js" in page.content
    assert mailoutbox and "dana@example.com" in mailoutbox[0].to  # confirmation e-mail (console locally)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_confirmation_e_mails_link_stands_on_a_line_of_its_own(client, mailoutbox, language):
    """allauth's Korean text put a particle right after the URL ("…/을 클릭하세요"), which a mail
    client reads as part of the link; ours puts the link alone on its line, in both languages."""
    client.post(
        "/accounts/signup/",
        {  # one address per run: allauth sends one confirmation per address every few minutes
            "email": f"eun-{language}@example.com",
            "username": f"eun-{language}",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
        HTTP_ACCEPT_LANGUAGE=language,
    )
    body = mailoutbox[0].body
    links = [line for line in body.splitlines() if "/accounts/confirm-email/" in line]
    assert len(links) == 1 and links[0].startswith("http") and links[0].endswith("/"), body
    assert " " not in links[0].strip(), body
    assert ("본인의 주소가 맞다면" in body) == (language == "ko")


def test_after_a_password_reset_the_page_offers_the_sign_in(client):
    page = client.get("/accounts/password/reset/key/done/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert 'href="/accounts/login/"' in page and "로그인" in page
