"""`server.trusted_proxy_hops`: behind a reverse proxy, each visitor is told apart by X-Forwarded-For."""

from __future__ import annotations

import pytest

from mediahub.testing import make_settings, running_app

MISSES_ALLOWED = 3


async def guesses_until_limited(client, forwarded_for: str) -> list[int]:
    statuses = []
    for attempt in range(MISSES_ALLOWED + 1):
        response = await client.post(f"/api/parties/NOPE{attempt:02d}/join", json={"display_name": "G"},
                                     headers={"X-Forwarded-For": forwarded_for})
        statuses.append(response.status_code)
    return statuses


@pytest.mark.parametrize("hops, second_visitor_limited", [(0, True), (1, False)])
async def test_the_join_code_limit_is_per_forwarded_client_only_behind_a_trusted_proxy(
        tmp_path, hops, second_visitor_limited):
    settings = make_settings(tmp_path, {
        "server": {"trusted_proxy_hops": hops},
        "plugins": {"listen_party": {"code_misses_per_minute": MISSES_ALLOWED}}})
    async with running_app(settings) as app:
        client = app.test_client()
        assert await guesses_until_limited(client, "203.0.113.7") == [404] * MISSES_ALLOWED + [429]
        # Another visitor behind the same proxy: with hops = 0 the header is not trusted
        # (anyone can send it) and both share the proxy's address, so both are limited.
        second = await client.post("/api/parties/NOPE99/join", json={"display_name": "G"},
                                   headers={"X-Forwarded-For": "198.51.100.4"})
        assert (second.status_code == 429) is second_visitor_limited
