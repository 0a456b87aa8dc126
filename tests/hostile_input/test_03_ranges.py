"""Hostile input: garbage and tricky Range headers."""

from __future__ import annotations

import pytest

from tests.support.hostile_input import ENORMOUS, RANGES, World, check_range, error_of

pytestmark = pytest.mark.asyncio(loop_scope="package")


RANGE_TARGETS = ["/media/ gateway", "/api/track/<id>", "/api/v1/renders/<id>/audio"]


async def range_target(world: World, where: str) -> tuple[str, dict, bytes]:
    """(url, headers, the stored bytes) of audio served by the /media/ gateway or a route."""
    if where == "/media/ gateway":
        return world.temp["url"], {}, world.temp_bytes
    if where == "/api/track/<id>":
        # Its uploader: since issue 13 only the uploader and members of a party playing it
        # may fetch a party track (strangers get the 404 of an unknown id, tested apart).
        return world.track["trackUrl"], world.alice, world.track_bytes
    return f"/api/v1/renders/{world.render['id']}/audio", world.bob, world.render_bytes


@pytest.mark.parametrize("case", RANGES)
@pytest.mark.parametrize("where", RANGE_TARGETS)
async def test_range_header(world, where, case):
    url, who, data = await range_target(world, where)
    await check_range(world, url, who, data, *RANGES[case])


@pytest.mark.parametrize("header", ["If-Range", "If-Modified-Since", "If-Unmodified-Since",
                                    "If-None-Match", "If-Match"])
@pytest.mark.parametrize("where", RANGE_TARGETS)
async def test_garbage_conditional_headers(world, where, header):
    url, who, data = await range_target(world, where)
    response = await world.client.get(url, headers={**who, header: "\x7f garbage " + ENORMOUS,
                                                    "Range": "bytes=0-3"})
    if header == "If-Match":  # a tag that matches nothing: the precondition fails
        await error_of(response, 412, "precondition_failed")
    elif header == "If-Range":  # not this representation's: the whole file, not the range
        assert response.status_code == 200 and await response.get_data() == data
    else:  # an unreadable date or a tag that matches nothing is ignored
        assert response.status_code == 206 and await response.get_data() == data[:4]
