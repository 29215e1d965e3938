"""Shared OpenAPI descriptions of the error responses."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False, help_text="Per-field messages, for bad input.")


_MEANINGS = {
    400: "Bad input",
    401: "No or invalid credentials",
    403: "Not allowed (e.g. CSRF missing on a session call)",
    404: "Not yours, or not there",
    409: "The upload is in the wrong state for this",
    413: "Too large",
    415: "Content type not allowed",
    429: "Throttled",
    503: "A backing service is unavailable",
}


def errors(*statuses):
    return {status: OpenApiResponse(ErrorSerializer, description=_MEANINGS[status]) for status in statuses}


class ExternalJWTScheme(OpenApiAuthenticationExtension):
    target_class = "uploader.api.auth.ExternalJWTAuthentication"
    name = "externalJWT"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (RS256, from JWT_ISSUER)"}
