"""Several instances: a guest connected to one app instance follows a host on another, via Redis."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.support.multipart import multipart
from tests.support.party import wav_bytes
from tests.support.websocket_client import WebSocketClient

pytestmark = pytest.mark.redis


async def test_a_guest_on_instance_b_follows_a_host_on_instance_a(redis_instances):  # noqa: F811
    instance_b, server = redis_instances
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as instance_a:
        host = (await instance_a.post("/api/auth/register", json={
            "username": "djane", "password": "correct horse battery"})).json()["access_token"]
        auth = {"Authorization": f"Bearer {host}"}
        party = (await instance_a.post("/api/parties", json={}, headers=auth)).json()
        body, content_type = multipart([("audio", "a.wav", wav_bytes())])
        track = (await instance_a.post("/api/upload-track", content=body,
                                       headers={**auth, **content_type})).json()
        client_b = instance_b.test_client()
        joined = await (await client_b.post(f"/api/parties/{party['code']}/join",
                                            json={"display_name": "Remote"})).get_json()
        guest_url = f"/ws/party/{party['code']}?access_token={joined['access_token']}"
        async with client_b.websocket(guest_url) as guest:
            async def next_of(kind):
                while True:
                    message = json.loads(await asyncio.wait_for(guest.receive(), 10))
                    if message["t"] == kind:
                        return message

            await next_of("SNAPSHOT")
            ws_url = server.url.replace("http", "ws") + f"/ws/party/{party['code']}?access_token={host}"
            dj = await WebSocketClient.connect(ws_url)
            try:
                await dj.receive_json("SNAPSHOT")
                await dj.send_json({"t": "HOST_TRACK_SELECTED", "version": 1,
                                    "trackId": track["trackId"]})
                selected = await next_of("TRACK_SELECTED")
                assert selected["trackId"] == track["trackId"]
                await dj.send_json({"t": "HOST_PLAY", "version": 2, "positionSec": 4})
                play = await next_of("PLAY")
                assert play["positionSec"] == 4 and play["version"] == 3
                await guest.send(json.dumps({"t": "SYNC_REPORT", "offsetMs": 1.5,
                                             "driftMs": 2, "rttMs": 1}))
                report = await dj.receive_json("MEMBER_SYNC")
                assert report["name"] == "Remote"
            finally:
                await dj.close()
