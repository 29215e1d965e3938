"""Which of the host's authentication classes the API's routes take. The app brings no
authentication of its own: it uses the host's DRF DEFAULT_AUTHENTICATION_CLASSES (this site's:
simplejwt, an external issuer, the session), and where a route must not ride a cookie (the legacy
presign, called from another origin) only their bearer-token classes."""

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.settings import api_settings


def bearer_authenticators() -> list:
    """The host's authentication classes but the cookie-based ones (SessionAuthentication's kin)."""
    return [cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES if not issubclass(cls, SessionAuthentication)]


class SameOriginSessionAuthentication(SessionAuthentication):
    """The session cookie, for requests this site's own pages made. Where Django would want a CSRF
    token (which Uppy cannot send), the browser's Fetch Metadata says where the request came from;
    a browser too old to send it must send a matching `Origin`, or the cookie is not honoured."""

    def enforce_csrf(self, request):
        site = request.headers.get("Sec-Fetch-Site")
        if site == "same-origin":
            return
        origin = request.headers.get("Origin")
        if site is None and origin and origin == f"{request.scheme}://{request.get_host()}":
            return
        raise exceptions.PermissionDenied(_("Cross-site requests may not use the session cookie here."))
