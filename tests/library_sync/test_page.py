"""The /library page without music-library: it explains where favorites come from, links
nowhere it cannot go, and asks for no id (the collection page version is in
tests/music_library/test_library_page_names.py)."""

from __future__ import annotations

from mediahub.testing import login


async def get(client, path, headers, status=200):
    response = await client.get(path, headers=headers)
    body = await response.get_json()
    assert response.status_code == status, body
    return body


async def test_without_music_library_the_page_explains_and_names_nothing(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"plugins": {"disabled": ["music-library"]}})
    client = app.test_client()
    who = await login(client, "no-music")
    html = " ".join((await (await client.get("/library", headers={**who, "Accept": "text/html"}))
                     .get_data(as_text=True)).split())
    assert 'href="/music' not in html and "Video id" not in html
    assert "Favorites are added by the apps you use with this server" in html
    answer = await get(client, "/api/me/library/tracks?ids=tr-1", who)
    assert answer == {"music": False, "tracks": []}
