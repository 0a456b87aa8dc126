"""Render every error as the one JSON shape, so clients never see an HTML error page."""

from __future__ import annotations

import logging

from quart import Quart, Response, jsonify, request
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from mediahub.errors import MediahubError

log = logging.getLogger("mediahub.http")


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def describe_schema_error(error: RequestSchemaValidationError) -> str:
    inner = error.validation_error
    errors = getattr(inner, "errors", None)
    if callable(errors):
        parts = []
        for item in errors():
            where = ".".join(str(p) for p in item.get("loc", ())) or "body"
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
        return "; ".join(parts) or "invalid request body"
    return str(inner) or "invalid request body"


def install(app: Quart) -> None:
    @app.errorhandler(MediahubError)
    async def mediahub_error(error: MediahubError):
        return error_response(error.status, error.code, error.message, error.headers)

    @app.errorhandler(RequestSchemaValidationError)
    async def schema_error(error: RequestSchemaValidationError):
        return error_response(400, "invalid_request", describe_schema_error(error))

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        headers = {}
        if error.code == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        return error_response(error.code or 500, code, error.description or error.name, headers)

    @app.errorhandler(UnicodeDecodeError)
    async def undecodable(error: UnicodeDecodeError):
        return error_response(400, "invalid_encoding", "request body is not valid UTF-8")

    @app.errorhandler(Exception)
    async def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal server error")
