"""Render every error as the one JSON shape, so clients never see an HTML error page."""

from __future__ import annotations

import logging

from quart import (Quart, Response, has_request_context, has_websocket_context, jsonify,
                   render_template, request, websocket)
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from mediahub.db import is_database_unavailable, raised_in
from mediahub.errors import DatabaseUnavailable, MediahubError

log = logging.getLogger("mediahub.http")

# What a 503 suggests to clients: outages we recover from (a database restart) take seconds.
RETRY_AFTER_SECONDS = 5


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


# Werkzeug's names where ours differ, so one failure has one code wherever it is raised.
HTTP_ERROR_CODES = {413: "payload_too_large"}


def where() -> str:
    """"POST /path" of the request (or "WEBSOCKET /path") being handled, for log lines."""
    if has_request_context():
        return f"{request.method} {request.path}"
    if has_websocket_context():
        return f"WEBSOCKET {websocket.path}"
    return "(no request)"


def install(app: Quart) -> None:
    @app.errorhandler(MediahubError)
    async def mediahub_error(error: MediahubError):
        return error_response(error.status, error.code, error.message, error.headers)

    @app.errorhandler(RequestSchemaValidationError)
    async def schema_error(error: RequestSchemaValidationError):
        return error_response(400, "invalid_request", describe_schema_error(error))

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException):
        code = HTTP_ERROR_CODES.get(error.code) or (error.name or "error").lower().replace(" ", "_")
        headers = {}
        if error.code == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        if error.code == 408:
            # The body is not all here and never will be: end the connection, do not wait on it.
            headers["Connection"] = "close"
        return error_response(error.code or 500, code, error.description or error.name, headers)

    @app.errorhandler(UnicodeDecodeError)
    async def undecodable(error: UnicodeDecodeError):
        return error_response(400, "invalid_encoding", "request body is not valid UTF-8")

    @app.errorhandler(RecursionError)
    async def too_deep(error: RecursionError):
        # json.loads recurses once per nesting level ("[[[[..."): the client's body, not a
        # bug. Any other runaway recursion is ours, and a 500 like every other bug.
        if not raised_in(error, ("json",)):
            return await unexpected(error)
        log.warning("recursion limit on %s: %s", where(), error)
        return error_response(400, "invalid_request", "the JSON body is nested too deeply")

    @app.errorhandler(Exception)
    async def unexpected(error: Exception):
        if is_database_unavailable(error):
            # An outage, not a bug: one line per request rather than a traceback each.
            log.warning("database unavailable on %s: %r", where(), error)
            unavailable = DatabaseUnavailable("the database is unavailable, try again shortly",
                                              headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            return error_response(unavailable.status, unavailable.code, unavailable.message,
                                  unavailable.headers)
        log.exception("unhandled error on %s", where())
        return error_response(500, "internal_error", "internal server error")


async def render_error_page(status: int, title: str, message: str) -> Response:
    """The site's HTML error page (for browser forms; APIs get `error_response`)."""
    body = await render_template("error.html", status=status, title=title, message=message)
    return Response(body, status=status, mimetype="text/html")
