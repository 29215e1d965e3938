"""The one base of every refusal the domain can give: a machine `code`, an HTTP `status` and a
message for people. The API (`api/errors.py`), the admin and the client all translate this one
type; no layer needs to know the others' exceptions."""


class DomainError(Exception):
    """A refusal the caller can act on. Subclasses set the default `code` and `status`."""

    code = "invalid"
    status = 400

    def __init__(self, message: str = "", *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class InvalidInput(DomainError):
    """What was sent cannot be used (a part list, a missing reason, ...): 400."""


class WrongState(DomainError):
    """The upload is not in a state that allows this call: 409."""

    code = "wrong_state"
    status = 409


class ServiceUnavailable(DomainError):
    """A backing AWS service did not answer; nothing was changed: 503."""

    code = "service_unavailable"
    status = 503
