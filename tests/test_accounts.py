import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_home_asks_for_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


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
