"""One domain error type: every refusal carries a code and an HTTP status, and the API translates
that one base (no refusal becomes a 500, no new code needs a new table entry)."""

import pytest
from rest_framework.test import APIRequestFactory

from uploader import services
from uploader.api.errors import exception_handler
from uploader.domain import validation
from uploader.domain.errors import DomainError
from uploader.models import InvalidTransition, Upload

pytestmark = pytest.mark.django_db


def _answer(error):
    request = APIRequestFactory().get("/")
    response = exception_handler(error, {"request": request})
    return response.status_code, response.data


@pytest.mark.parametrize(
    "error, expected",
    [
        (validation.PolicyError("no", code="unsupported_type"), (415, {"detail": "no", "code": "unsupported_type"})),
        (validation.PolicyError("big", code="quota_exceeded"), (413, {"detail": "big", "code": "quota_exceeded"})),
        # A code the API has never heard of is still a clean 400, not a KeyError.
        (validation.PolicyError("odd", code="brand_new_rule"), (400, {"detail": "odd", "code": "brand_new_rule"})),
        (services.InvalidParts("parts", code="parts_missing"), (400, {"detail": "parts", "code": "parts_missing"})),
        (services.WrongState("state"), (409, {"detail": "state", "code": "wrong_state"})),
        (
            services.ServiceUnavailable(""),
            (503, {"detail": "A backing service is unavailable; try again shortly.", "code": "service_unavailable"}),
        ),
        (InvalidTransition("from a to b"), (409, {"detail": "from a to b", "code": "wrong_state"})),
    ],
)
def test_every_domain_error_answers_with_its_own_status_and_code(error, expected):
    assert isinstance(error, DomainError)
    assert _answer(error) == expected


def test_an_impossible_transition_is_a_conflict_not_a_crash(user):
    upload = Upload(owner=user, status=Upload.Status.EXPIRED)
    with pytest.raises(InvalidTransition) as raised:
        upload.transition(Upload.Status.AVAILABLE)
    assert _answer(raised.value) == (
        409,
        {"detail": "The upload cannot go from expired to available.", "code": "wrong_state"},
    )


def test_a_rejection_without_a_reason_is_bad_input_not_a_conflict(user):
    upload = Upload(owner=user, status=Upload.Status.AVAILABLE)
    with pytest.raises(services.InvalidInput) as raised:
        services.upload_review(upload=upload, reviewer=user, approve=False, reason="  ")
    assert (raised.value.status, raised.value.code) == (400, "reason_required")
