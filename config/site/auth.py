"""Authentication for the API: our own JWTs (simplejwt), tokens from an external identity provider
(RS256, verified against its JWKS), and the web page's session (with CSRF)."""

import functools
import hashlib
import secrets

import jwt
from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from uploader.models import ExternalIdentity

from . import accounts


def _refuse_unverified(user):
    """A user the web login would send to verify their address gets no token either."""
    if user is not None and user.is_active and not accounts.email_verified_if_required(user):
        raise exceptions.AuthenticationFailed(_("Verify your e-mail address before you sign in."), "email_not_verified")


# allauth's failed-login limit locks a login name for this long (its default "5/300s/key").
LOGIN_LOCK_SECONDS = 300


class TokenObtainPairSerializer(jwt_serializers.TokenObtainPairSerializer):
    """simplejwt's, but the password is checked through allauth's adapter, so a failed attempt
    here counts toward the web form's failed-login lock and a locked name is refused here too;
    and an unverified account is told why (its password was right)."""

    def validate(self, attrs):
        request = self.context.get("request")
        request = getattr(request, "_request", request)
        try:
            self.user = get_adapter(request).authenticate(
                request, username=attrs[self.username_field], password=attrs["password"]
            )
        except DjangoValidationError:  # too many failed attempts for this name or address
            raise exceptions.Throttled(
                wait=LOGIN_LOCK_SECONDS, detail=_("Too many failed sign-in attempts; try again later.")
            ) from None
        if not api_settings.USER_AUTHENTICATION_RULE(self.user):
            _refuse_unverified(self.user)
            raise exceptions.AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        refresh = self.get_token(self.user)
        if api_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, self.user)
        return {"refresh": str(refresh), "access": str(refresh.access_token)}


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """simplejwt's, but a refresh token whose user was deleted is a 401, not a 500, and one issued
    before the password changed is refused like its access tokens."""

    def validate(self, attrs):
        try:
            refresh = self.token_class(attrs["refresh"])
            user = get_user_model().objects.get(pk=refresh.payload.get(api_settings.USER_ID_CLAIM))
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from None
        except get_user_model().DoesNotExist:
            raise exceptions.AuthenticationFailed(
                _("No active account found for the given token."), "no_active_account"
            ) from None
        if refresh.payload.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
            raise exceptions.AuthenticationFailed(_("The user's password has been changed."), "password_changed")
        _refuse_unverified(user)
        return super().validate(attrs)


@functools.lru_cache(maxsize=8)
def _jwks_client(url, lifespan):
    # The key set, not each key, is cached, and only for `lifespan` seconds: a key the issuer
    # removes stops working then. (PyJWKClient's per-key cache would trust it until a restart.)
    return jwt.PyJWKClient(url, cache_keys=False, cache_jwk_set=True, lifespan=lifespan, timeout=5)


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
            key = (
                _jwks_client(settings.JWT_JWKS_URL, settings.JWT_JWKS_CACHE_SECONDS).get_signing_key_from_jwt(token).key
            )
            claims = _verified_claims(token, key, has_audience="aud" in unverified)
        except jwt.PyJWKClientConnectionError:
            raise exceptions.AuthenticationFailed(_("The identity provider's keys could not be fetched.")) from None
        except jwt.PyJWTError as exc:
            raise exceptions.AuthenticationFailed(
                _("Invalid token: %(error)s") % {"error": exc}, code="token_not_valid"
            ) from None
        user = _user_for(claims)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User is inactive."), code="user_inactive")
        return user, claims


def _verified_claims(token, key, *, has_audience):
    """The token's claims once its signature, expiry, issuer and intended recipient hold. The
    recipient is `aud` (an ID token, Auth0) or, in a Cognito access token, which carries no `aud`,
    `client_id`; Cognito's `token_use` must be one JWT_TOKEN_USES allows."""
    claims = jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=settings.JWT_AUDIENCE if has_audience else None,
        issuer=settings.JWT_ISSUER,
        options={"require": ["exp", "iss", "sub"] + (["aud"] if has_audience else []), "verify_aud": has_audience},
    )
    if not has_audience and claims.get("client_id") != settings.JWT_AUDIENCE:
        raise jwt.InvalidAudienceError("Neither aud nor client_id names this application")
    if "token_use" in claims and claims["token_use"] not in settings.JWT_TOKEN_USES:
        raise jwt.InvalidTokenError(f"token_use {claims['token_use']!r} is not accepted")
    return claims


def _user_for(claims):
    """The user behind an external subject, created on first sight. A local account that already
    holds the generated username gets a suffix instead, so no signup can lock a subject out."""
    issuer, subject = claims["iss"], str(claims["sub"])
    digest = hashlib.sha256(f"{issuer}\0{subject}".encode()).hexdigest()[:24]
    for attempt in range(5):
        found = ExternalIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        if found:
            return found.user
        username = f"ext-{digest}" if attempt == 0 else f"ext-{digest}-{secrets.token_hex(4)}"
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user(username, email=_trusted_email(claims))
                user.set_unusable_password()
                user.save(update_fields=["password"])
                ExternalIdentity.objects.create(issuer=issuer, subject=subject, user=user)
                return user
        except IntegrityError:  # the identity was created concurrently, or the username is taken
            continue
    raise exceptions.AuthenticationFailed(_("The account for this identity could not be created."), "identity_conflict")


def _trusted_email(claims):
    """The token's address, only when the issuer says it is verified and nobody here has it: an
    unverified claim must not block the address's real owner from signing up."""
    email = claims.get("email")
    verified = claims.get("email_verified")
    if not isinstance(email, str) or not email or verified not in (True, "true"):
        return ""
    from allauth.account.models import EmailAddress

    if (
        get_user_model().objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email).exists()
    ):
        return ""
    return email
