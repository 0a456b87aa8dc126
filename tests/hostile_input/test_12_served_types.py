"""Hostile input (issue 13): what served files and pages tell a browser."""

from __future__ import annotations

import time
import uuid

import pytest

from mediahub.streaming import signed_media_url
from tests.support.hostile_input import INGEST_ROUTES, World, raw_request, wav_of, wav_render_form
from tests.support.multipart import multipart

pytestmark = pytest.mark.asyncio(loop_scope="package")


AUDIO_THEN_HTML = wav_of(4000) + b"<!doctype html><html><script>alert(1)</script></html>" * 20


async def served_at(world: World, route: str, answer: dict) -> tuple[str, dict]:
    if route == "renders upload":
        return f"/api/v1/renders/{answer['id']}/audio", world.bob
    if route == "party upload-track":
        return answer["trackUrl"], world.bob
    return answer["url"], {}


@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_audio_with_html_after_its_frames_is_never_served_renderable(world, route):
    path, parts = (wav_render_form if route == "renders upload" else INGEST_ROUTES[route])(
        "song.wav", AUDIO_THEN_HTML)
    body, headers = multipart(parts, file_type="text/html")
    response = await world.client.post(path, data=body, headers={**world.bob, **headers})
    answer = await response.get_json()
    assert response.status_code in (200, 201), answer
    url, who = await served_at(world, route, answer)
    served = await world.client.get(url, headers=who)
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("audio/")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]


@pytest.mark.parametrize("name", ["page.html", "image.svg", "feed.xml", "page.xhtml", "no-extension"])
async def test_a_stored_file_of_a_renderable_type_is_downloaded_not_rendered(world, name):
    storage = world.host.storage.default
    key = f"hostile-types/{uuid.uuid4().hex}/{name}"

    async def chunks():
        yield b"<html><script>alert(1)</script></html>"

    await storage.put(key, chunks(), "text/html")
    try:
        url = signed_media_url(world.host.secret_key, storage.name, key, int(time.time()) + 60)
        status, headers, body = await raw_request(world.app, "GET", url)
        assert status == 200 and body.startswith(b"<html>")
        assert headers["content-type"] == "application/octet-stream"
        assert headers["content-disposition"] == "attachment"
        assert headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in headers["content-security-policy"]
    finally:
        await storage.delete_prefix(key.rpartition("/")[0] + "/")


@pytest.mark.parametrize("path", ["/", "/login", "/party", "/tracks", "/tracks/upload", "/library",
                                  "/threads", "/temp-upload", "/signup", "/party/ZZZZZZ"])
async def test_every_page_sends_the_content_security_policy(world, path):
    response = await world.client.get(path, headers=world.alice)
    assert response.mimetype == "text/html", path
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
