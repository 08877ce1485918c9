"""One error hierarchy for the domain; the UI and the API map it to messages and to one error shape."""


class ApplicationError(Exception):
    """A request the domain refuses. `code` is stable for API clients; `fields` maps field → messages."""

    code = "invalid"
    http_status = 400

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    code = "validation_error"
    http_status = 400

    @classmethod
    def on(cls, field: str, message: str) -> "ValidationFailed":
        return cls(message, fields={field: [message]})


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    http_status = 403


class TransitionNotAllowed(ApplicationError):
    code = "transition_not_allowed"
    http_status = 409


class Conflict(ApplicationError):
    code = "conflict"
    http_status = 409


# Refusals of the HTTP layer (API): raised by its plumbing, mapped to the same error shape.
class IdempotencyKeyReused(ApplicationError):
    """The Idempotency-Key was already used for a different request."""

    code = "idempotency_key_reused"
    http_status = 422


class IdempotencyKeyInvalid(ApplicationError):
    code = "idempotency_key_invalid"
    http_status = 400


class PayloadTooLarge(ApplicationError):
    code = "payload_too_large"
    http_status = 413


class UnsupportedEncoding(ApplicationError):
    code = "unsupported_encoding"
    http_status = 415


class LengthRequired(ApplicationError):
    code = "length_required"
    http_status = 411
