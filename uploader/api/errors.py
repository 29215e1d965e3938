"""Every API error is JSON `{"detail": ..., "code": ...}` with the status docs/architecture.md lists."""

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from uploader.domain.errors import DomainError


class Refusal(exceptions.APIException):
    """A DomainError as DRF knows errors: its status, its code and its message."""

    DEFAULT_DETAIL = {
        409: _("The upload is not in a state that allows this."),
        413: _("Too large."),
        503: _("A backing service is unavailable; try again shortly."),
    }

    def __init__(self, error: DomainError):
        self.status_code = error.status
        super().__init__(detail=error.message or self.DEFAULT_DETAIL.get(error.status), code=error.code)


_JSON_ERROR = "JSON parse error - "  # DRF's JSONParser says this in English only, whatever the language


def _translate(exc):
    if isinstance(exc, DomainError):
        return Refusal(exc)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, exceptions.ParseError) and str(exc.detail).startswith(_JSON_ERROR):
        where = str(exc.detail).removeprefix(_JSON_ERROR)  # the parser's own words: where it stopped
        return exceptions.ParseError(_("The request body is not valid JSON (%(error)s).") % {"error": where})
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
