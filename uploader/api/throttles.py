from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class PresignRateThrottle(UserRateThrottle):
    """Per-user rate for calls that sign URLs. DRF makes a throttle per request, so
    UPLOADER_PRESIGN_RATE is read at request time."""

    scope = "presign"

    def get_rate(self):
        return settings.UPLOADER_PRESIGN_RATE

    def allow_request(self, request, view):
        if request.method != "POST" and not getattr(view, "throttle_every_method", False):
            return True
        return super().allow_request(request, view)
