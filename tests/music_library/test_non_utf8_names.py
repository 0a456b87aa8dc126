"""A file whose name is not UTF-8 (b"caf\\xe9.mp3", Latin-1 from an old copy) is scanned, listed
under a readable name and streams: whole, by Range, and transcoded; a rescan leaves it alone."""

from __future__ import annotations

import os

from mediahub.testing import login
from tests.support.music_library import get, make_audio, scan_now


async def test_a_latin1_file_name_scans_and_streams_with_range(mediahub_app_factory, tmp_path):
    music = tmp_path / "music"
    make_audio(music / "staging.mp3", {"title": "Café del Mar", "artist": "Energy 52"})
    folder = os.fsencode(music / "Vieux")
    os.makedirs(folder)
    os.rename(os.fsencode(music / "staging.mp3"), os.path.join(folder, b"caf\xe9.mp3"))
    original = open(os.path.join(folder, b"caf\xe9.mp3"), "rb").read()

    app = await mediahub_app_factory(overrides={"plugins": {"music_library": {
        "folders": [str(music)], "scan_on_start": False, "watch": False, "rescan_interval": 0}}})
    counts = await scan_now(app)
    assert (counts.added, counts.failed) == (1, 0), counts.problems
    client = app.test_client()
    alice = await login(client, "alice")
    track, = (await get(client, "/api/music/search?q=cafe", alice))["tracks"]
    assert track["title"] == "Café del Mar" and track["path"] == "Vieux/caf\ufffd.mp3"

    whole = await client.get(track["streamUrl"], headers=alice)
    assert whole.status_code == 200 and await whole.get_data() == original
    part = await client.get(track["streamUrl"], headers={**alice, "Range": "bytes=100-1099"})
    assert part.status_code == 206 and await part.get_data() == original[100:1100]
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(original)}"
    transcoded = await client.get(f"{track['streamUrl']}?format=opus", headers=alice)
    assert transcoded.status_code == 200 and (await transcoded.get_data()).startswith(b"OggS")

    again = await scan_now(app)
    assert (again.added, again.changed, again.removed, again.failed) == (0, 0, 0, 0)
    # Renamed to a UTF-8 name: the same track, found by its new name, still streams.
    os.rename(os.path.join(folder, b"caf\xe9.mp3"), os.path.join(folder, "café.mp3".encode()))
    moved = await scan_now(app)
    assert moved.moved == 1, moved.problems
    renamed = (await get(client, f"/api/music/tracks/{track['id']}", alice))["track"]
    assert renamed["path"] == "Vieux/café.mp3"
    assert await (await client.get(renamed["streamUrl"], headers=alice)).get_data() == original


async def test_covers_under_latin1_names_are_found_and_served(mediahub_app_factory, tmp_path):
    from tests.support.music_library import make_image

    music = tmp_path / "music"
    picture = tmp_path / "embedded.jpg"
    make_image(picture, "blue", "300x300")
    make_audio(music / "one.mp3", {"title": "Embedded", "artist": "Ana"}, picture=picture)
    make_audio(music / "two.mp3", {"title": "Beside", "artist": "Ana", "album": "Vieux"})
    os.rename(os.fsencode(music / "one.mp3"), os.fsencode(music) + b"/\xe9te.mp3")
    directory = os.fsencode(music) + b"/Ann\xe9es"
    os.makedirs(directory)
    os.rename(os.fsencode(music / "two.mp3"), directory + b"/two.mp3")
    make_image(tmp_path / "cover.jpg", "green")
    os.rename(os.fsencode(tmp_path / "cover.jpg"), directory + b"/cover.jpg")

    app = await mediahub_app_factory(overrides={"plugins": {"music_library": {
        "folders": [str(music)], "scan_on_start": False, "watch": False, "rescan_interval": 0}}})
    counts = await scan_now(app)
    assert (counts.added, counts.failed) == (2, 0), counts.problems
    client = app.test_client()
    alice = await login(client, "alice")
    tracks = {track["title"]: track for track in (await get(client, "/api/music/search?q=", alice))["tracks"]}
    assert tracks["Embedded"]["coverId"] and tracks["Beside"]["coverId"]
    assert tracks["Embedded"]["coverId"] != tracks["Beside"]["coverId"]
    for track in tracks.values():
        cover = await client.get(track["coverUrl"], headers=alice)
        assert cover.status_code == 200 and cover.headers["Content-Type"] == "image/jpeg"
