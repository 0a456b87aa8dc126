"""Hostile input: oversize bodies, with a Content-Length and chunked (no Content-Length)."""

from __future__ import annotations

import json

import pytest

from tests.support.hostile_input import (INGEST_ROUTES, JSON_CAP, KiB, LIBRARY_BODY_CAP, MAX_UPLOAD,
                                         TOO_LARGE, error_of, fill, hls_init, nothing_stored, pieces,
                                         presigned_form, wav_of)
from tests.support.multipart import multipart

pytestmark = pytest.mark.asyncio(loop_scope="package")


OVER_CAP = MAX_UPLOAD + 64 * KiB  # real audio, a little over the upload cap


@pytest.mark.parametrize("how", ["content-length", "chunked"])
@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_oversize_upload(world, route, how):
    path, parts = INGEST_ROUTES[route]("big.wav", wav_of(OVER_CAP))
    body, headers = multipart(parts)
    async with nothing_stored(world):
        if how == "chunked":
            response = await world.chunked("POST", path, world.bob, headers, pieces(body))
        else:
            response = await world.client.post(path, data=body, headers={**world.bob, **headers})
        await error_of(response, 413, TOO_LARGE)


@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_upload_whose_content_length_alone_is_too_large(world, route):
    # 4 MiB of body: refused on the header, before a byte of the file is read.
    path, parts = INGEST_ROUTES[route]("big.wav", wav_of(4 * 1024 * KiB))
    body, headers = multipart(parts)
    async with nothing_stored(world):
        response = await world.client.post(path, data=body, headers={**world.bob, **headers})
        await error_of(response, 413, TOO_LARGE)


@pytest.mark.parametrize("how", ["content-length", "chunked"])
async def test_oversize_presigned_upload(world, how):
    # The policy allows the declared 10 000 bytes; 300 KiB arrive.
    init = await hls_init(world, world.bob, 10_000, "wav")
    body, headers = presigned_form(init, wav_of(300 * KiB), filename="x.wav")
    async with nothing_stored(world):
        if how == "chunked":
            response = await world.chunked("POST", init["audio_upload_url"], {}, headers, pieces(body))
        else:
            response = await world.client.post(init["audio_upload_url"], data=body, headers=headers)
        await error_of(response, 413, TOO_LARGE)


def big_json(size: int, field: str = "title") -> bytes:
    return json.dumps({field: "x" * size}).encode()


# (method, path, body over the cap) for JSON routes; {thread}, {message}, {code} are alice's.
OVERSIZE_JSON = {
    "guest": ("POST", "/api/auth/guest", big_json(JSON_CAP, "display_name")),
    "register": ("POST", "/api/auth/register", big_json(JSON_CAP, "username")),
    "login": ("POST", "/api/auth/login", big_json(JSON_CAP, "password")),
    "refresh": ("POST", "/api/auth/token/refresh", big_json(JSON_CAP, "refresh_token")),
    "create thread": ("POST", "/api/v1/threads", big_json(JSON_CAP)),
    "post message": ("POST", "/api/v1/threads/{thread}/messages", big_json(JSON_CAP, "text")),
    "attach render": ("POST", "/api/v1/messages/{message}/renders", big_json(JSON_CAP, "render")),
    "create party": ("POST", "/api/parties", big_json(JSON_CAP, "name")),
    "join party": ("POST", "/api/parties/{code}/join", big_json(JSON_CAP, "display_name")),
    "hls init": ("POST", "/tracks/upload/init", big_json(JSON_CAP)),
    "hls complete": ("POST", "/tracks/upload/complete", big_json(JSON_CAP, "track_id")),
    "library sync": ("POST", "/api/me/library/sync", big_json(LIBRARY_BODY_CAP, "device_id")),
    "favorites": ("PUT", "/api/me/favorites", big_json(LIBRARY_BODY_CAP, "favorites")),
    "playlists": ("PUT", "/api/me/playlists", big_json(LIBRARY_BODY_CAP, "playlists")),
    "session ping": ("POST", "/api/me/session/ping", big_json(LIBRARY_BODY_CAP, "session_id")),
}


@pytest.mark.parametrize("how", ["content-length", "chunked"])
@pytest.mark.parametrize("route", OVERSIZE_JSON)
async def test_oversize_json_body(world, route, how):
    method, path, body = OVERSIZE_JSON[route]
    headers = {"Content-Type": "application/json"}
    async with nothing_stored(world):
        if how == "chunked":
            response = await world.chunked(method, fill(world, path), world.bob, headers, pieces(body))
        else:
            response = await world.client.open(fill(world, path), method=method, data=body,
                                               headers={**world.bob, **headers})
        await error_of(response, 413, TOO_LARGE)
