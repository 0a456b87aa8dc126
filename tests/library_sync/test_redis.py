"""library-sync live updates across server instances: a change on one reaches a WebSocket on another via Redis."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest


pytestmark = pytest.mark.redis


async def test_a_change_on_one_instance_reaches_a_device_connected_to_another(redis_instances):  # noqa: F811
    instance_b, server = redis_instances
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as instance_a:
        tokens = (await instance_a.post("/api/auth/register", json={
            "username": "roamer", "password": "correct horse battery"})).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        client_b = instance_b.test_client()
        async with client_b.websocket(f"/ws/library?access_token={tokens['access_token']}") as socket:
            ready = json.loads(await asyncio.wait_for(socket.receive(), 10))
            assert ready["type"] == "ready"
            response = await instance_a.put("/api/me/favorites", headers=headers, json={
                "favorites": [{"videoId": "abc", "addedAt": "2025-12-28T10:00:00Z"}],
                "device_id": "phone"})
            assert response.status_code == 200, response.text
            message = json.loads(await asyncio.wait_for(socket.receive(), 10))
        assert message["type"] == "library_changed" and message["device_id"] == "phone"
        assert message["version"] == response.json()["version"]
        # Instance B serves the change it was told about.
        library = await (await client_b.get("/api/me/library", headers=headers)).get_json()
        assert [f["videoId"] for f in library["favorites"]] == ["abc"]
