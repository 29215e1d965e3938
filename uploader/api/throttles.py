"""Rates, counted in the default cache (Redis in production, so every web process shares them).
DRF makes a throttle per request, so the rates are read from settings at request time."""

import hashlib

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle


class _UserMethodThrottle(UserRateThrottle):
    """Per user, for the methods listed in the view's `throttled_methods` (default POST)."""

    rate_setting = ""

    def get_rate(self):
        return getattr(settings, self.rate_setting)

    def allow_request(self, request, view):
        if request.method not in getattr(view, "throttled_methods", {"POST"}):
            return True
        return super().allow_request(request, view)


class PresignRateThrottle(_UserMethodThrottle):
    """Calls that start uploads and sign their URLs."""

    scope = "presign"
    rate_setting = "UPLOADER_PRESIGN_RATE"


class UploadActionThrottle(_UserMethodThrottle):
    """complete, parts, abort and delete: each may reach S3 or queue work."""

    scope = "upload_action"
    rate_setting = "UPLOADER_ACTION_RATE"


class TokenAddressThrottle(SimpleRateThrottle):
    """Token calls per client address (REMOTE_ADDR, or the address DJANGO_NUM_PROXIES trusted
    proxies report): a guesser cannot spread one address over many usernames."""

    scope = "token_address"

    def get_rate(self):
        return settings.UPLOADER_TOKEN_RATE_IP

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenUsernameThrottle(SimpleRateThrottle):
    """Token calls per login name, from any address: a guesser cannot spread one account over
    many addresses."""

    scope = "token_username"

    def get_rate(self):
        return settings.UPLOADER_TOKEN_RATE_USERNAME

    def get_cache_key(self, request, view):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username.strip():
            return None
        digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()  # any name, a safe key
        return self.cache_format % {"scope": self.scope, "ident": digest}
