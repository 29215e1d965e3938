"""Cognito as the external identity provider, as in the original design: the session's stack
created a user pool and app client (WithCognito); a user is created in the emulator's Cognito,
signs in with InitiateAuth, and calls the API with the tokens Cognito issued, verified through
the pool's JWKS URL over HTTP."""

import contextlib

import pytest
from botocore.exceptions import ClientError
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from uploader import aws
from uploader.aws import provisioning
from uploader.models import ExternalIdentity, Upload

EMAIL = "ana@example.com"
PASSWORD = "correct-horse-battery-42"


@pytest.fixture
def cognito(aws_resources, settings):
    out = provisioning.outputs()
    pool, client_id = out["UserPoolId"], out["UserPoolClientId"]
    region = pool.split("_")[0]
    # As for a real pool: the issuer is Cognito's, the keys are at the pool's well-known URL.
    settings.JWT_ISSUER = f"https://cognito-idp.{region}.amazonaws.com/{pool}"
    settings.JWT_JWKS_URL = f"{django_settings.AWS_ENDPOINT_URL}/{pool}/.well-known/jwks.json"
    settings.JWT_AUDIENCE = client_id
    idp = aws.client("cognito-idp")
    with contextlib.suppress(idp.exceptions.UsernameExistsException):  # made by an earlier test
        idp.admin_create_user(
            UserPoolId=pool,
            Username=EMAIL,
            UserAttributes=[{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )
    idp.admin_set_user_password(UserPoolId=pool, Username=EMAIL, Password=PASSWORD, Permanent=True)
    return idp, pool, client_id


def sign_in(idp, client_id, password=PASSWORD):
    answer = idp.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": EMAIL, "PASSWORD": password}
    )
    return answer["AuthenticationResult"]


def api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_cognito_user_signs_in_and_uploads(cognito, transactional_db):
    idp, _, client_id = cognito
    tokens = sign_in(idp, client_id)

    # The ID token (aud = the app client) carries the verified address: the account gets it.
    listed = api(tokens["IdToken"]).get("/api/v1/uploads/")
    assert listed.status_code == 200, listed.content
    # The access token (client_id = the app client, no aud) names the same person.
    created = api(tokens["AccessToken"]).post(
        "/api/v1/uploads/", {"filename": "notes.txt", "content_type": "text/plain", "size": 5}, format="json"
    )
    assert created.status_code == 201, created.content
    assert api(tokens["IdToken"]).get("/api/v1/uploads/").json()["results"][0]["id"] == created.json()["id"]

    identity = ExternalIdentity.objects.get()
    assert identity.issuer == django_settings.JWT_ISSUER and identity.user.email == EMAIL
    assert Upload.objects.get().owner == identity.user


def test_a_wrong_password_gets_no_token_and_a_tampered_token_is_401(cognito, transactional_db):
    idp, _, client_id = cognito
    with pytest.raises(ClientError) as refused:
        sign_in(idp, client_id, password="not-the-password-1")
    assert aws.error_code(refused.value) == "NotAuthorizedException"

    header, payload, signature = sign_in(idp, client_id)["AccessToken"].split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    assert api(tampered).get("/api/v1/uploads/").status_code == 401
    assert not ExternalIdentity.objects.exists()


def test_a_token_for_another_app_client_of_the_pool_is_401(cognito, transactional_db):
    idp, pool, _ = cognito
    other = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="another-app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    tokens = sign_in(idp, other)
    assert api(tokens["AccessToken"]).get("/api/v1/uploads/").status_code == 401
    assert api(tokens["IdToken"]).get("/api/v1/uploads/").status_code == 401
    assert not ExternalIdentity.objects.exists()
