from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class PresignRateThrottle(UserRateThrottle):
    """Per-user rate for calls that sign URLs (UPLOADER_PRESIGN_RATE, read at request time)."""

    scope = "presign"

    def get_rate(self):
        return settings.UPLOADER_PRESIGN_RATE

    def allow_request(self, request, view):
        if request.method != "POST" and not getattr(view, "throttle_every_method", False):
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
