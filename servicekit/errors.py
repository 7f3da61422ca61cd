"""HTTP-level errors, in the same hierarchy (and JSON shape) as the core's errors."""

from __future__ import annotations

from certs.errors import CardcertError

__all__ = [
    "BadRequest",
    "Conflict",
    "DatabaseBusy",
    "Forbidden",
    "InternalError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceError",
    "ServiceUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
]


class ServiceError(CardcertError):
    """The request was rejected."""

    code = "request_rejected"


class BadRequest(ServiceError):
    """The request body or parameters are malformed."""

    code = "request_malformed"


class Unauthorized(ServiceError):
    """A valid API key is required (Authorization: Bearer ...)."""

    code = "unauthorized"
    http_status = 401


class Forbidden(ServiceError):
    """This API key may not do that."""

    code = "forbidden"
    http_status = 403


class NotFound(ServiceError):
    """No such resource."""

    code = "not_found"
    http_status = 404


class MethodNotAllowed(ServiceError):
    """That method is not allowed on this resource."""

    code = "method_not_allowed"
    http_status = 405


class Conflict(ServiceError):
    """The request conflicts with the resource's state."""

    code = "conflict"
    http_status = 409


class PayloadTooLarge(ServiceError):
    """The request body is too large."""

    code = "payload_too_large"
    http_status = 413


class UnsupportedMediaType(ServiceError):
    """The request body must be application/json."""

    code = "unsupported_media_type"
    http_status = 415


class RateLimited(ServiceError):
    """Too many requests; retry after the number of seconds in Retry-After."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InternalError(ServiceError):
    """An internal error occurred; it was logged without request data."""

    code = "internal_error"
    http_status = 500


class ServiceUnavailable(ServiceError):
    """A dependency (database, issuer) is unavailable; retry later."""

    code = "service_unavailable"
    http_status = 503


class DatabaseBusy(ServiceUnavailable):
    """SQLite stayed locked by another process past the lock timeout (servicekit.inline_sqlite):
    the database is unavailable for now, the same answer as an outage."""
