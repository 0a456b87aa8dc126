"""Hostile input: keys and ids with ../, encodings, absolute paths, NUL bytes, backslashes."""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

import pytest

from mediahub.streaming import signed_media_url
from tests.support.hostile_input import assert_json_error, nothing_stored, raw_request

pytestmark = pytest.mark.asyncio(loop_scope="package")


# Keys as a client might smuggle them in a /media/ URL (already percent-encoded as sent).
TRAVERSAL_KEYS = {
    "../ to a file next to the root": "../outside-secret.txt",
    "../../ deeper": "../../outside-secret.txt",
    "encoded %2e%2e%2f": "%2e%2e%2foutside-secret.txt",
    "double-encoded %252e%252e%252f": "%252e%252e%252foutside-secret.txt",
    "absolute path": "/etc/passwd",
    "encoded absolute path": "%2fetc%2fpasswd",
    "NUL byte": "renders/x.mp3%00.txt",
    "backslashes": "..%5c..%5coutside-secret.txt",
    "sibling with the root as prefix": "../media-evil/x",
    "dot segments inside": "party/./../../outside-secret.txt",
    "invalid utf-8": "%ff%fe/x",
}


SIGNABLE_KEYS = [name for name, key in TRAVERSAL_KEYS.items() if "%ff" not in key]


@pytest.mark.parametrize("key", TRAVERSAL_KEYS)
async def test_media_gateway_traversal_unsigned(world, key):
    status, headers, body = await raw_request(world.app, "GET", f"/media/local/{TRAVERSAL_KEYS[key]}")
    # An undecodable key is refused before the signature is even looked at.
    expected = (404, "not_found") if key == "invalid utf-8" else (403, "forbidden")
    assert_json_error(status, headers, body, *expected)


@pytest.mark.parametrize("key", SIGNABLE_KEYS)
async def test_media_gateway_traversal_signed_by_the_server(world, key):
    # Even a URL the server itself signed (say, from a bug elsewhere) never leaves the root.
    raw_key = TRAVERSAL_KEYS[key]
    url = signed_media_url(world.host.secret_key, "local", unquote(raw_key, errors="strict"),
                           int(time.time()) + 600)
    target = f"/media/local/{raw_key}?{url.partition('?')[2]}"
    status, headers, body = await raw_request(world.app, "GET", target)
    assert_json_error(status, headers, body, 404, "not_found")


# Routes whose path parameter reaches storage or a lookup: (method, template).
ID_ROUTES = {
    "party track": ("GET", "/api/track/{}"),
    "render": ("GET", "/api/v1/renders/{}"),
    "render audio": ("GET", "/api/v1/renders/{}/audio"),
    "delete temp upload": ("DELETE", "/api/temp-upload/temp/{}"),
    "delete temp session": ("DELETE", "/api/temp-upload/session/{}"),
    "hls status": ("GET", "/tracks/upload/status/{}"),
    "hls track": ("GET", "/api/tracks/{}"),
    "hls delete": ("DELETE", "/api/tracks/{}"),
    "hls rendition playlist": ("GET", "/tracks/00000000-0000-4000-8000-000000000000/hls/{}/index.m3u8"),
    "party": ("GET", "/api/parties/{}"),
    "join party": ("POST", "/api/parties/{}/join"),
    "end party": ("POST", "/api/parties/{}/end"),
    "delete message": ("DELETE", "/api/v1/messages/{}"),
    "thread messages": ("GET", "/api/v1/threads/{}/messages"),
    "party static file": ("GET", "/party/static/{}"),
    "hls static file": ("GET", "/hls/static/{}"),
    "site static file": ("GET", "/static/{}"),
}

BAD_IDS = {
    "../": "..%2f..%2foutside-secret.txt",
    "dot-dot": "..",
    "encoded dot-dot": "%2e%2e",
    "NUL": "%00",
    "NUL in the middle": "abc%00def",
    "backslashes": "..%5c..%5coutside-secret.txt",
    "absolute": "%2fetc%2fpasswd",
    "300 characters": "a" * 300,
    "sql": "1'%20OR%20'1'%3D'1",
    "unicode dots": "%e2%80%a4%e2%80%a4",
}


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("route", ID_ROUTES)
async def test_bad_path_parameters(world, route, bad):
    method, template = ID_ROUTES[route]
    token = world.bob["Authorization"]
    async with nothing_stored(world):
        status, headers, body = await raw_request(world.app, method, template.format(BAD_IDS[bad]),
                                                  {"Authorization": token})
    if route.endswith("static file") and bad == "absolute":
        # The router merges the double slash and redirects within the same folder (then 404).
        assert status == 308 and b"TOP-SECRET" not in body
        assert urlsplit(headers["location"]).path == template.format("etc/passwd")
        return
    # The route's own "no such ..." or, when the id does not even match the route, the router's.
    assert_json_error(status, headers, body, 404, {"not_found", "track_not_found", "party_not_found"})
