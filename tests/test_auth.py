"""JWTs for mobile clients: our own (simplejwt) and an external identity provider's (RS256/JWKS)."""

import datetime as dt
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from uploader.models import ExternalIdentity

from .factories import make_user
from .static_server import serving

pytestmark = pytest.mark.django_db


def _obtain(client, username="alice", password="pw-alice-123"):
    return client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")


def test_token_pair_authenticates_api_calls(user):
    client = APIClient()
    tokens = _obtain(client).json()
    assert set(tokens) == {"access", "refresh"}
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get("/api/v1/uploads/").status_code == 200


def test_wrong_password_is_401(user):
    response = _obtain(APIClient(), password="nope")
    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


def test_refresh_rotates_and_the_old_refresh_token_is_blacklisted(user):
    client = APIClient()
    first = _obtain(client).json()
    rotated = client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]
    replay = client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert replay.status_code == 401
    assert replay.json()["code"] == "token_not_valid"


def test_a_deactivated_user_can_neither_obtain_nor_refresh_nor_use_a_token(user):
    client = APIClient()
    tokens = _obtain(client).json()
    user.is_active = False
    user.save()
    assert _obtain(client).status_code == 401
    assert client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get("/api/v1/uploads/").status_code == 401


def test_a_deleted_users_refresh_token_is_401_not_500(user):
    client = APIClient()
    tokens = _obtain(client).json()
    user.delete()
    assert client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_an_expired_or_tampered_access_token_is_401(user, settings):
    client = APIClient()
    access = _obtain(client).json()["access"]
    header, payload, signature = access.split(".")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {header}.{payload}.{signature[::-1]}")
    assert client.get("/api/v1/uploads/").status_code == 401
    from rest_framework_simplejwt.tokens import AccessToken

    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-dt.timedelta(seconds=1))
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {expired}")
    response = client.get("/api/v1/uploads/")
    assert response.status_code == 401 and response.json()["code"] == "token_not_valid"


# --- an external identity provider, served from a local JWKS endpoint ---

ISSUER = "https://idp.example.test/"
AUDIENCE = "uploads-api"
DROP = object()  # a claim the token leaves out


@pytest.fixture(scope="module")
def idp():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    with serving(jwks, "application/json") as base_url:
        yield key, f"{base_url}/.well-known/jwks.json"


@pytest.fixture
def external(idp, settings):
    key, url = idp
    settings.JWT_ISSUER, settings.JWT_AUDIENCE, settings.JWT_JWKS_URL = ISSUER, AUDIENCE, url

    def token(signing_key=key, **overrides):
        now = dt.datetime.now(dt.UTC)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-42",
            "email": "m@example.com",
            "email_verified": True,
            "iat": now,
            "exp": now + dt.timedelta(minutes=5),
            **overrides,
        }
        claims = {name: value for name, value in claims.items() if value is not DROP}
        return jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": "k1"})

    return token


def _get(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/v1/uploads/")


def test_an_external_token_creates_then_matches_a_user(external):
    assert _get(external()).status_code == 200
    assert _get(external()).status_code == 200
    identity = ExternalIdentity.objects.get()
    assert (identity.issuer, identity.subject, identity.user.email) == (ISSUER, "user-42", "m@example.com")
    assert not identity.user.has_usable_password()


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.example.test/"},
        {"aud": "another-api"},
        {"exp": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)},
        {"aud": DROP},
        {"aud": DROP, "client_id": "another-app", "token_use": "access"},
        {"token_use": "refresh"},
        {"aud": DROP, "client_id": AUDIENCE, "token_use": "refresh"},
    ],
    ids=["wrong issuer", "wrong audience", "expired", "no recipient", "another client", "refresh use", "refresh by id"],
)
def test_bad_external_tokens_are_401(external, overrides):
    response = _get(external(**overrides))
    assert response.status_code == 401
    assert not ExternalIdentity.objects.exists()


def test_an_access_token_without_aud_names_the_app_in_client_id(external):
    """Cognito's access tokens carry `client_id` and `token_use`, no `aud`."""
    assert _get(external(aud=DROP, client_id=AUDIENCE, token_use="access")).status_code == 200


def test_an_external_token_signed_by_another_key_is_401(external):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _get(external(signing_key=other)).status_code == 401


def test_a_deactivated_external_user_is_401(external):
    assert _get(external()).status_code == 200
    user = ExternalIdentity.objects.get().user
    user.is_active = False
    user.save()
    assert _get(external()).status_code == 401


def test_external_tokens_are_ignored_unless_configured(idp, settings):
    settings.JWT_ISSUER = ""
    key, _ = idp
    now = dt.datetime.now(dt.UTC)
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + dt.timedelta(minutes=5)}, key, algorithm="RS256"
    )
    assert _get(token).status_code == 401


def test_local_tokens_still_work_when_an_external_issuer_is_configured(external):
    make_user()
    client = APIClient()
    access = _obtain(client).json()["access"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert client.get("/api/v1/uploads/").status_code == 200


@pytest.mark.django_db
def test_a_token_request_without_a_username_is_400_and_counts_against_no_name():
    answer = APIClient().post("/api/v1/auth/token/", {"password": "whatever-123"}, format="json")
    assert (answer.status_code, answer.json()["errors"]) == (400, {"username": ["This field is required."]})
