"""Hostile input: bodies that are not the JSON object a route expects."""

from __future__ import annotations

import json

import pytest

from mediahub.testing import guest
from tests.support.hostile_input import JSON_ROUTES, World, error_of, fill, fill_body, nothing_stored

pytestmark = pytest.mark.asyncio(loop_scope="package")


# Bodies that are not a JSON object at all, whatever the route.
BAD_BODIES = {
    "not utf-8": b'{"title": "\xff\xfe\xfd", "text": "\xc3\x28"}',
    "latin-1 text": '{"title": "caf\xe9", "name": "M\xfcller"}'.encode("latin-1"),
    "invalid json": b'{"title": ',
    "trailing garbage": b'{"title": "x"} and more',
    "a list instead of an object": b"[]",
    "a list of objects": b'[{"title": "x", "text": "x", "name": "x"}]',
    "a string": b'"hello"',
    "a number": b"42",
    "null": b"null",
    "true": b"true",
    "a 5000-digit number": b'{"n": 1' + b"0" * 5000 + b"}",
    "nested 20000 lists deep": b"[" * 20_000 + b"]" * 20_000,
    "nested 10000 objects deep": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "empty body": b"",
    "only whitespace": b" \r\n\t ",
}
# invalid_account: a user name or display name that breaks the account rules.
BAD_BODY_CODES = {"invalid_request", "invalid_encoding", "bad_request", "invalid_account"}

# Values put in every text field of a route's otherwise valid body.
BAD_VALUES = {
    "1e999": "1e999",
    "NaN": "NaN",
    "-Infinity": "-Infinity",
    "a 400-digit number": "1" + "0" * 400,
    "a list": '["x"]',
    "an object": '{"$gt": ""}',
    "true": "true",
    "a NUL character": '"a\\u0000b"',
    "a lone surrogate": '"\\ud800x"',
    "a string of 50 000 characters": json.dumps("x" * 50_000),
}


async def who_sends(world: World, route: str) -> dict:
    # Signing out with a bad body must not sign bob out for every other case.
    return await guest(world.client, "Throwaway") if route == "logout" else world.bob


# Every route with every bad body, except an empty body where the body may be left out.
BAD_BODY_CASES = [(route, body) for route in JSON_ROUTES for body in BAD_BODIES
                  if BAD_BODIES[body].strip() or not JSON_ROUTES[route][2]]


@pytest.mark.parametrize(("route", "body"), BAD_BODY_CASES)
async def test_bad_json_body(world, route, body):
    method, path = JSON_ROUTES[route][:2]
    data = BAD_BODIES[body]
    who = await who_sends(world, route)
    async with nothing_stored(world):
        response = await world.client.open(fill(world, path), method=method, data=data,
                                           headers={**who, "Content-Type": "application/json"})
        await error_of(response, 400, BAD_BODY_CODES)


# Where a bad value is not refused as such, what else is the safe answer: (status, code).
VALUE_OUTCOMES = {
    # No account, token or track has such a name: the lookup simply fails.
    ("login", "a NUL character"): (401, "invalid_credentials"),
    ("login", "a lone surrogate"): (401, "invalid_credentials"),
    ("refresh", "a NUL character"): (401, "invalid_refresh_token"),
    ("refresh", "a lone surrogate"): (401, "invalid_refresh_token"),
    ("refresh", "a string of 50 000 characters"): (401, "invalid_refresh_token"),
    ("login", "a string of 50 000 characters"): (401, "invalid_credentials"),
    # bob signs in with his bearer token; the seed's body `token` is not even looked at.
    ("attach render", "a NUL character"): (403, "forbidden"),
}


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize("route", JSON_ROUTES)
async def test_bad_value_in_every_text_field(world, route, value):
    method, path, _, valid, texts = JSON_ROUTES[route]
    body = json.dumps(fill_body(world, valid))[:-1]
    body += "".join(f', "{name}": {BAD_VALUES[value]}' for name in texts) + "}"
    who = await who_sends(world, route)
    status, code = VALUE_OUTCOMES.get((route, value), (400, BAD_BODY_CODES))
    if route == "logout" and value in ("a NUL character", "a lone surrogate",
                                       "a string of 50 000 characters"):
        status, code = 200, None  # signing out with an unknown refresh token: nothing to revoke
    async with nothing_stored(world):
        response = await world.client.open(fill(world, path), method=method, data=body.encode(),
                                           headers={**who, "Content-Type": "application/json"})
        if code is None:
            assert response.status_code == status, await response.get_data()
        else:
            await error_of(response, status, code)


@pytest.mark.parametrize("route", ["create thread", "post message", "create party", "hls init", "guest"])
async def test_json_body_sent_as_a_form(world, route):
    # The right fields, as application/x-www-form-urlencoded: not JSON, refused.
    method, path = JSON_ROUTES[route][:2]
    async with nothing_stored(world):
        response = await world.client.open(fill(world, path), method=method, headers=world.bob,
                                           form={"title": "x", "text": "x", "name": "x",
                                                 "file_extension": "mp3", "file_size": "10"})
        await error_of(response, 400, BAD_BODY_CODES)


@pytest.mark.parametrize("section", ["favorites", "history", "queue", "playlists", "recent searches"])
async def test_library_items_with_lone_surrogates(world, section):
    # Valid shapes, but text that cannot be stored as UTF-8.
    item = {"favorites": '{"favorites": [{"videoId": "a", "title": %s, "addedAt": "2025-01-01T00:00:00Z"}]}',
            "history": '{"history": [{"videoId": "a", "artist": %s, "playedAt": "2025-01-01T00:00:00Z"}]}',
            "queue": '{"queue": [{"videoId": "a", "title": %s}]}',
            "playlists": '{"playlists": [{"id": "pl_x", "name": %s}]}',
            "recent searches": '{"recent_searches": [%s]}'}[section] % BAD_VALUES["a lone surrogate"]
    method, path = JSON_ROUTES[section][:2]
    async with nothing_stored(world):
        response = await world.client.open(path, method=method, data=item.encode(),
                                           headers={**world.bob, "Content-Type": "application/json"})
        await error_of(response, 400, BAD_BODY_CODES)
    library = await (await world.client.get("/api/me/library", headers=world.bob)).get_json()
    assert "\ud800" not in json.dumps(library, ensure_ascii=False)
