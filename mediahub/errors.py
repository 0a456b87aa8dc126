"""The one error shape: every failure a client sees is `{"error": {"code", "message"}}`."""

from __future__ import annotations


class MediahubError(Exception):
    """An error with an HTTP status, a stable machine code and a human message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.headers = headers or {}

    def to_json(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(MediahubError):
    status, code = 400, "bad_request"


class Unauthorized(MediahubError):
    status, code = 401, "unauthorized"


class Forbidden(MediahubError):
    status, code = 403, "forbidden"


class NotFound(MediahubError):
    status, code = 404, "not_found"


class Conflict(MediahubError):
    status, code = 409, "conflict"


class PayloadTooLarge(MediahubError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(MediahubError):
    status, code = 415, "unsupported_media_type"


class RangeNotSatisfiable(MediahubError):
    status, code = 416, "range_not_satisfiable"


class UploadRejected(MediahubError):
    """Raised by `upload_validate` implementations to refuse an upload."""

    status, code = 422, "upload_rejected"


class TooManyRequests(MediahubError):
    status, code = 429, "too_many_requests"


class StorageUnavailable(MediahubError):
    status, code = 503, "storage_unavailable"


class DatabaseUnavailable(MediahubError):
    """The database cannot be reached (or is locked) right now; the client may retry."""

    status, code = 503, "database_unavailable"


class ConfigProblem(Exception):
    """A storage factory or plugin reports a bad setting: `key` and what is wrong."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message
