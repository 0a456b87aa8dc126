"""The OpenAPI document: quart-schema's, plus the one error shape and required request bodies."""

from __future__ import annotations

from typing import Any

from quart_schema.openapi import OpenAPIProvider

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    }},
}

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}

HTML = {"text/html": {"schema": {"type": "string"}}}

# For a text field's `pattern`: stored as typed, but never with NUL characters. PostgreSQL
# cannot store them in a text column (the insert fails: a 500 instead of a 400), and no
# keyboard types them. `name: str = Field(max_length=200, pattern=NO_NUL)`.
NO_NUL = r"^[^\x00]*$"


def html_page(view):
    """Mark a route as a browser page: documented as HTML (and redirects), not JSON."""
    view.mediahub_html_page = True
    return view


def optional_body(view):
    """Mark a route whose JSON body may be omitted entirely."""
    view.mediahub_optional_body = True
    return view


def media_route(view):
    """Mark a route that answers with media bytes (any content type, Range responses)."""
    view.mediahub_media_route = True
    return view


class MediahubOpenAPIProvider(OpenAPIProvider):
    """Every operation documents the JSON error shape; a declared body is required."""

    def build_paths(self, rule):
        paths, components = super().build_paths(rule)
        view = self._app.view_functions[rule.endpoint]
        if getattr(view, "mediahub_optional_body", False):
            for operations in paths.values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["requestBody"]["required"] = False
        if getattr(view, "mediahub_html_page", False):
            for operations in paths.values():
                for operation in operations.values():
                    operation["responses"] = {
                        "200": {"description": "An HTML page.", "content": HTML},
                        "3XX": {"description": "A redirect to another page."},
                        "default": {"description": "An error page or JSON error.",
                                    "content": {**HTML, "application/json": {
                                        "schema": {"$ref": "#/components/schemas/Error"}}}},
                    }
        elif getattr(view, "mediahub_media_route", False):
            for operations in paths.values():
                for operation in operations.values():
                    operation["responses"].setdefault(200, {
                        "description": "The media bytes.", "content": {"*/*": {}}})
                    operation["responses"].setdefault(206, {
                        "description": "Part of the media bytes (Range).", "content": {"*/*": {}}})
                    operation["responses"].setdefault(304, {"description": "Not modified."})
        return paths, components

    def schema(self, *args: Any, **kwargs: Any) -> dict:
        document = super().schema(*args, **kwargs)
        document.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        error_ref = {"$ref": "#/components/schemas/Error"}
        for path, operations in list(document.get("paths", {}).items()):
            if path.startswith("/static/"):
                del document["paths"][path]
                continue
            for method, operation in operations.items():
                if method not in METHODS:
                    continue
                # quart-schema leaves requestBody.required unset, so clients (and
                # schemathesis) may omit a body the route cannot work without.
                if "requestBody" in operation:
                    operation["requestBody"].setdefault("required", True)
                # Status codes as strings, as OpenAPI spells them (and JSON can sort them).
                responses = {str(k): v for k, v in operation.get("responses", {}).items()}
                operation["responses"] = responses
                responses.setdefault("default", {
                    "description": "An error, always in the one JSON shape.",
                    "content": {"application/json": {"schema": error_ref}},
                })
        return document
