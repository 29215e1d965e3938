"""Rates, counted in the default cache (Redis in production, so every web process shares them).
DRF makes a throttle per request, so the rates are read from settings at request time."""

import hashlib

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle


class CountedRateThrottle(SimpleRateThrottle):
    """DRF's throttle keeps a caller's request times in one cache entry that it reads and then
    writes back, so requests that overlap all read the same history and all pass: a burst of
    password guesses spread over web processes sharing Redis got 6 to 8 through at 5/min. Here
    each window of the rate is one counter the cache increments atomically (Redis INCR), and the
    previous window's count is weighed by how much of it still lies within one duration of now (a
    sliding window, as a log would be, without a boundary that lets twice the rate through). A
    refused request is taken back off the count, as DRF's throttles do not count one."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        window, into = divmod(self.timer(), self.duration)
        counter = f"{self.key}:{int(window)}"
        self.previous = self.cache.get(f"{self.key}:{int(window) - 1}", 0)
        self.fraction = into / self.duration
        # A request may weigh more than one (a batch's items); never more than the whole rate.
        self.weight = max(1, min(self.cost(request), self.num_requests))
        self.current = self._count(counter, self.weight)
        if self.previous * (1 - self.fraction) + self.current <= self.num_requests:
            return True
        try:
            self.current = self.cache.decr(counter, self.weight)
        except ValueError:
            self.current = 0
        return False

    def cost(self, request) -> int:
        """How much of the rate this request uses: one, unless a subclass counts its items."""
        return 1

    def _count(self, counter: str, weight: int = 1) -> int:
        """Adds this request to the window's counter and returns the count: an increment, or the
        first request of the window creates it (whoever loses that race increments)."""
        try:
            return self.cache.incr(counter, weight)
        except ValueError:
            if self.cache.add(counter, weight, timeout=2 * self.duration):
                return weight
            return self.cache.incr(counter, weight)

    def wait(self):
        """Seconds until this request (of its weight) would fit."""
        room = self.num_requests - self.weight - self.current  # what the previous window's weight must shrink to
        if room >= 0:
            return max(0.0, (1 - room / self.previous - self.fraction) * self.duration) if self.previous else 0.0
        # This window is full: after it ends, its own count must weigh little enough.
        decay = max(0.0, 1 - (self.num_requests - self.weight) / self.current) if self.current else 0.0
        return (1 - self.fraction + decay) * self.duration


class _UserMethodThrottle(CountedRateThrottle, UserRateThrottle):
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


class BatchItemsThrottle(_UserMethodThrottle):
    """A batch call's items, each one against UPLOADER_BATCH_ITEMS_RATE (the call itself counts
    once against the presign or action rate): a folder of 1,000 starts in ten calls within a
    minute, and no one starts more than the presign rate plus this rate of uploads a minute."""

    rate_setting = "UPLOADER_BATCH_ITEMS_RATE"

    def cost(self, request) -> int:
        items = request.data.get("uploads") if hasattr(request.data, "get") else None
        return len(items) if isinstance(items, list) else 1


class BatchStartItemsThrottle(BatchItemsThrottle):
    scope = "batch_start_items"


class BatchCompleteItemsThrottle(BatchItemsThrottle):
    scope = "batch_complete_items"


class UploadActionThrottle(_UserMethodThrottle):
    """complete, parts, abort and delete: each may reach S3 or queue work."""

    scope = "upload_action"
    rate_setting = "UPLOADER_ACTION_RATE"


class TokenAddressThrottle(CountedRateThrottle):
    """Token calls per client address (REMOTE_ADDR, or the address DJANGO_NUM_PROXIES trusted
    proxies report): a guesser cannot spread one address over many usernames."""

    scope = "token_address"

    def get_rate(self):
        return settings.UPLOADER_TOKEN_RATE_IP

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenUsernameThrottle(CountedRateThrottle):
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
