"""Domain errors; one middleware (common.web) turns them into JSON answers."""

from __future__ import annotations


class LeadrelayError(Exception):
    """An error with an HTTP status and a stable machine-readable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, detail: object = None, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        if code is not None:
            self.code = code

    def body(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message, "detail": self.detail}


class BadRequest(LeadrelayError):
    status, code = 400, "malformed"


class Unauthorized(LeadrelayError):
    status, code = 401, "unauthorized"


class InvalidSignature(Unauthorized):
    code = "invalid_signature"


class Forbidden(LeadrelayError):
    status, code = 403, "forbidden"


class NotFound(LeadrelayError):
    status, code = 404, "not_found"


class LeadNotFound(NotFound):
    code = "lead_not_found"


class Conflict(LeadrelayError):
    """The request is fine but the thing it acts on is not in a state that allows it."""

    status, code = 409, "conflict"


class IdempotencyConflict(LeadrelayError):
    status, code = 409, "idempotency_key_reused"


class UnsupportedMediaType(LeadrelayError):
    status, code = 415, "unsupported_media_type"


class InvalidField(LeadrelayError):
    """detail is a list of {"field", "message"}."""

    status, code = 422, "invalid_field"


class RateLimited(LeadrelayError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after


class DatabaseBusy(LeadrelayError):
    status, code = 503, "database_busy"
    retry_after = 1


class DatabaseUnavailable(DatabaseBusy):
    """The database cannot take the write now (disk full, I/O error, file unreachable):
    the request was fine and nothing was written; try again later."""

    code = "database_unavailable"
    retry_after = 5


class ConcurrencyConflict(LeadrelayError):
    """Another writer appended to the stream first; the caller may reload and retry."""

    status, code = 409, "concurrency_conflict"
