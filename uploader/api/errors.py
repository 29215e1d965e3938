"""Every API error is JSON `{"detail": ..., "code": ...}` with the status docs/architecture.md lists."""

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from .. import services, validation


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("Too large.")
    default_code = "too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The upload is not in a state that allows this.")
    default_code = "wrong_state"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("A backing service is unavailable; try again shortly.")
    default_code = "service_unavailable"


_POLICY_ERRORS = {
    "unsupported_type": exceptions.UnsupportedMediaType,
    "too_large": PayloadTooLarge,
    "quota_exceeded": PayloadTooLarge,
    "invalid_filename": exceptions.ValidationError,
    "invalid_size": exceptions.ValidationError,
}


def _translate(exc):
    if isinstance(exc, validation.PolicyError):
        cls = _POLICY_ERRORS[exc.code]
        if cls is exceptions.UnsupportedMediaType:
            return cls(media_type="", detail=exc.message, code=exc.code)
        return cls(detail=exc.message, code=exc.code)
    if isinstance(exc, services.InvalidParts):
        return exceptions.ValidationError(detail=exc.message, code=exc.code)
    if isinstance(exc, services.WrongState):
        return Conflict(detail=str(exc))
    if isinstance(exc, services.ServiceUnavailable):
        return ServiceUnavailable(detail=str(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    return exc


def _first_message(detail):
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        message = _first_message(value)
        return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else str(_("Invalid input."))
    return str(detail)


def _first_code(codes):
    while isinstance(codes, (dict, list)) and codes:
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return codes if isinstance(codes, str) else "invalid"


def exception_handler(exc, context):
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    detail = exc.detail
    if isinstance(detail, dict) and isinstance(detail.get("code"), str) and "detail" in detail:
        # simplejwt's errors carry their own {"detail", "code"} (e.g. password_changed).
        body = {"detail": str(detail["detail"]), "code": str(detail["code"])}
    else:
        body = {"detail": _first_message(detail), "code": _first_code(exc.get_codes())}
        if isinstance(detail, dict):
            body["errors"] = detail
    response.data = body
    return response
