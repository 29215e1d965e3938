from rest_framework import authentication


class SessionAuthentication(authentication.SessionAuthentication):
    """Session auth (with CSRF) that answers 401, not 403, when there are no credentials at all."""

    def authenticate_header(self, request):
        return 'Session realm="api"'
