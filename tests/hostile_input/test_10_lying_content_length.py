"""Hostile input: a Content-Length that lies."""

from __future__ import annotations

import json

import pytest

from tests.support.hostile_input import (INGEST_ROUTES, JSON_ROUTES, TOO_LARGE, assert_json_error, fill,
                                         fill_body, nothing_stored, raw_request, wav_of)
from tests.support.multipart import multipart

pytestmark = pytest.mark.asyncio(loop_scope="package")


# (A body shorter than its Content-Length never reaches the app: the server waits for the
# rest, and a client that hangs up is a disconnect, which cancels the request.)
@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_upload_whose_content_length_announces_100_gib(world, route):
    path, parts = INGEST_ROUTES[route]("a.wav", wav_of(4000))
    body, headers = multipart(parts)
    headers = {**headers, "Content-Length": str(100 << 30), **world.bob}
    async with nothing_stored(world):
        status, answer_headers, answer = await raw_request(world.app, "POST", path, headers, body)
        assert_json_error(status, answer_headers, answer, 413, "payload_too_large")


@pytest.mark.parametrize("route", ["create thread", "hls init", "favorites", "guest"])
async def test_json_with_a_content_length_of_100_gib(world, route):
    method, path, _, valid, _ = JSON_ROUTES[route]
    body = json.dumps(fill_body(world, valid)).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(100 << 30), **world.bob}
    async with nothing_stored(world):
        status, answer_headers, answer = await raw_request(world.app, method, fill(world, path), headers, body)
        assert_json_error(status, answer_headers, answer, 413, TOO_LARGE)
