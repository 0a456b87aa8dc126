"""The Subsonic wire format: one response body rendered as XML (the default), JSON or JSONP.

A handler's answer is a JSON-shaped dict ({"album": {...}}). XML is derived from it the
way Subsonic servers write it: scalar values become attributes, dicts child elements,
lists repeated child elements, and a "value" key the element's text.
"""

from __future__ import annotations

import json
import re
from xml.sax.saxutils import escape, quoteattr

from quart import Response

API_VERSION = "1.16.1"
SERVER_TYPE = "mediahub"
XML_NAMESPACE = "http://subsonic.org/restapi"
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,63}$")
# Characters XML 1.0 cannot carry at all (a tag may hold any of them).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class SubsonicError(Exception):
    """A Subsonic failure: sent as status "failed" with this code, over HTTP 200."""

    GENERIC = 0
    MISSING_PARAMETER = 10
    CLIENT_TOO_OLD = 20
    SERVER_TOO_OLD = 30
    WRONG_CREDENTIALS = 40
    TOKEN_NOT_SUPPORTED = 41
    MECHANISM_NOT_SUPPORTED = 42
    CONFLICTING_MECHANISMS = 43
    INVALID_API_KEY = 44
    NOT_AUTHORIZED = 50
    NOT_FOUND = 70

    def __init__(self, code: int, message: str, help_url: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.help_url = help_url

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.help_url:
            error["helpUrl"] = self.help_url
        return {"error": error}


def missing(name: str) -> SubsonicError:
    return SubsonicError(SubsonicError.MISSING_PARAMETER, f"required parameter is missing: {name}")


def not_found(what: str) -> SubsonicError:
    return SubsonicError(SubsonicError.NOT_FOUND, f"{what} not found")


def envelope(status: str, body: dict, server_version: str) -> dict:
    return {"status": status, "version": API_VERSION, "type": SERVER_TYPE,
            "serverVersion": server_version, "openSubsonic": True, **body}


def render(status: str, body: dict, *, fmt: str, callback: str | None,
           server_version: str) -> Response:
    """The response for `f` (xml, json or jsonp); a bad jsonp callback falls back to JSON."""
    document = {"subsonic-response": _clean(envelope(status, body, server_version))}
    if fmt == "jsonp" and callback and _CALLBACK.match(callback):
        # The callback is checked against an identifier pattern: no script can ride in it.
        text = f"{callback}({json.dumps(document, ensure_ascii=False)});"
        return Response(text, content_type="application/javascript; charset=utf-8")
    if fmt in ("json", "jsonp"):
        return Response(json.dumps(document, ensure_ascii=False),
                        content_type="application/json; charset=utf-8")
    xml = to_xml("subsonic-response", document["subsonic-response"], namespace=XML_NAMESPACE)
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + xml,
                    content_type="text/xml; charset=utf-8")


def _clean(value):
    """None values left out (Subsonic omits absent attributes), recursively."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value if v is not None]
    return value


def _scalar(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _XML_ILLEGAL.sub("", str(value))


def to_xml(name: str, value, namespace: str | None = None) -> str:
    """One element (and its children) from a JSON-shaped value."""
    attrs = [f" xmlns={quoteattr(namespace)}"] if namespace else []
    children: list[str] = []
    text = ""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "value" and not isinstance(item, (dict, list)):
                text = escape(_scalar(item))
            elif isinstance(item, dict):
                children.append(to_xml(key, item))
            elif isinstance(item, list):
                children.extend(to_xml(key, element) for element in item)
            else:
                attrs.append(f" {key}={quoteattr(_scalar(item))}")
    else:
        text = escape(_scalar(value))
    if not children and not text:
        return f"<{name}{''.join(attrs)}/>"
    return f"<{name}{''.join(attrs)}>{text}{''.join(children)}</{name}>"
