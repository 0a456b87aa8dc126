"""/rest/<endpoint> and /rest/<endpoint>.view: parameters, authentication, dispatch, rendering."""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib import metadata

from quart import Blueprint, Response

from mediahub import (BadRequest, Forbidden, MediahubError, NotFound, csrf_token_in_body,
                      media_route)

from mediahub_subsonic_api.credentials import authenticate
from mediahub_subsonic_api.endpoints import Call, load_all
from mediahub_subsonic_api.params import Params
from mediahub_subsonic_api.wire import SubsonicError, render

log = logging.getLogger(__name__)
blueprint = Blueprint("subsonic_api", __name__)
CREDENTIAL_PARAMS = ("u", "p", "t", "s", "apiKey")


@lru_cache(maxsize=1)
def server_version() -> str:
    try:
        return metadata.version("mediahub")
    except metadata.PackageNotFoundError:
        return "0"


def endpoint_name(raw: str) -> str:
    return raw[:-5] if raw.endswith(".view") else raw


@blueprint.route("/rest/<path:name>", methods=["GET", "POST"])
@media_route
@csrf_token_in_body
async def rest(name: str) -> Response:
    """A Subsonic API call (XML by default, `f=json` or `f=jsonp`); errors are HTTP 200."""
    params = await Params.from_request()
    fmt = (params.values.get("f") or "xml").lower()
    callback = params.values.get("callback")
    try:
        result = await dispatch(endpoint_name(name), params)
    except SubsonicError as error:
        return render("failed", error.body(), fmt=fmt, callback=callback,
                      server_version=server_version())
    if isinstance(result, Response):
        return result
    return render("ok", result or {}, fmt=fmt, callback=callback, server_version=server_version())


async def dispatch(name: str, params: Params):
    endpoints = load_all()
    endpoint = endpoints.get(name)
    if endpoint is None:
        # Some apps change the case of a name; a name is still one endpoint.
        folded = {key.lower(): value for key, value in endpoints.items()}
        endpoint = folded.get(name.lower())
    if endpoint is None:
        raise SubsonicError(SubsonicError.NOT_FOUND, f"unknown endpoint: {name[:64]}")
    user = None
    sent_credentials = any(params.has(key) for key in CREDENTIAL_PARAMS)
    if endpoint.auth == "required" or (endpoint.auth == "optional" and sent_credentials):
        user = await authenticate(params)
    try:
        return await endpoint.handler(Call(params=params, user=user))
    except NotFound as error:
        raise SubsonicError(SubsonicError.NOT_FOUND, error.message) from None
    except Forbidden as error:
        raise SubsonicError(SubsonicError.NOT_AUTHORIZED, error.message) from None
    except BadRequest as error:
        raise SubsonicError(SubsonicError.GENERIC, error.message) from None
    except MediahubError as error:
        log.info("subsonic %s: %s", name, error.message)
        raise SubsonicError(SubsonicError.GENERIC, error.message) from None
