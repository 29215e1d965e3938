"""Authentication for the API: our own JWTs (simplejwt), tokens from an external identity provider
(RS256, verified against its JWKS), and the web page's session (with CSRF)."""

import functools
import hashlib

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from rest_framework import authentication, exceptions
from rest_framework_simplejwt import serializers as jwt_serializers

from ..models import ExternalIdentity


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """simplejwt's, but a refresh token whose user was deleted is a 401, not a 500."""

    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            raise exceptions.AuthenticationFailed("No active account found for the given token.",
                                                  "no_active_account") from None


@functools.lru_cache(maxsize=4)
def _jwks_client(url):
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def external_jwt_enabled():
    return bool(settings.JWT_ISSUER and settings.JWT_AUDIENCE and settings.JWT_JWKS_URL)


class ExternalJWTAuthentication(authentication.BaseAuthentication):
    """Accept RS256 tokens from JWT_ISSUER (as API Gateway's JWT authorizer does for Cognito or
    Auth0). A token that names another issuer is left to the next authenticator."""

    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    def authenticate(self, request):
        if not external_jwt_enabled():
            return None
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != b"bearer":
            return None
        token = header[1].decode("ascii", "replace")
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        if unverified.get("iss") != settings.JWT_ISSUER:
            return None
        try:
            key = _jwks_client(settings.JWT_JWKS_URL).get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token, key, algorithms=["RS256"], audience=settings.JWT_AUDIENCE, issuer=settings.JWT_ISSUER,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError:
            raise exceptions.AuthenticationFailed("The identity provider's keys could not be fetched.") from None
        except jwt.PyJWTError as exc:
            raise exceptions.AuthenticationFailed(f"Invalid token: {exc}", code="token_not_valid") from None
        user = _user_for(claims)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User is inactive.", code="user_inactive")
        return user, claims


def _user_for(claims):
    """The user behind an external subject, created on first sight."""
    issuer, subject = claims["iss"], str(claims["sub"])
    found = ExternalIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    if found:
        return found.user
    digest = hashlib.sha256(f"{issuer}\0{subject}".encode()).hexdigest()[:24]
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(f"ext-{digest}", email=claims.get("email", ""))
            user.set_unusable_password()
            user.save(update_fields=["password"])
            ExternalIdentity.objects.create(issuer=issuer, subject=subject, user=user)
            return user
    except IntegrityError:  # created concurrently by another request
        return ExternalIdentity.objects.select_related("user").get(issuer=issuer, subject=subject).user
