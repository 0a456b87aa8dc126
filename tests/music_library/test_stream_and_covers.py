"""A track's bytes (the original with Range/ETag/206/304/416, ffmpeg transcodes) and its covers
(embedded or folder art, content-hash ids, Pillow thumbnails, immutable caching)."""

from __future__ import annotations

import hashlib
import io
import shutil

import mutagen
from PIL import Image

import pytest

from tests.support.music_library import get

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def find(client, headers, query):
    return (await get(client, f"/api/music/search?q={query}", headers))["tracks"][0]


async def test_originals_and_transcodes(music, collection, tmp_path):
    client, alice = music.client, music.alice
    track = await find(client, alice, "hoppipolla")
    original = (collection["main"] / "Sigur Rós/Takk/02 Hoppípolla.ogg").read_bytes()
    url = track["streamUrl"]

    whole = await client.get(url, headers=alice)
    assert whole.status_code == 200 and await whole.get_data() == original
    assert whole.headers["Content-Type"] == "audio/ogg" and whole.headers["Accept-Ranges"] == "bytes"
    part = await client.get(url, headers={**alice, "Range": "bytes=100-199"})
    assert part.status_code == 206 and await part.get_data() == original[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(original)}"
    unchanged = await client.get(url, headers={**alice, "If-None-Match": whole.headers["ETag"]})
    assert unchanged.status_code == 304
    beyond = await client.get(url, headers={**alice, "Range": f"bytes={len(original)}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(original)}"
    assert (await client.head(url, headers=alice)).status_code == 200
    # "raw" and the file's own codec are the original too.
    assert await (await client.get(f"{url}?format=raw", headers=alice)).get_data() == original

    # Transcodes: the asked format, from the asked offset, streamed without a length.
    def decoded(data: bytes, suffix: str):
        path = tmp_path / f"out.{suffix}"
        path.write_bytes(data)
        return mutagen.File(path)

    opus = await client.get(f"{url}?format=opus&maxBitRate=64", headers=alice)
    data = await opus.get_data()
    assert opus.status_code == 200 and opus.headers["Content-Type"] == "audio/ogg"
    assert data.startswith(b"OggS") and b"OpusHead" in data[:100]
    assert 0.9 < decoded(data, "opus").info.length < 1.2
    mp3 = await client.get(f"{url}?format=mp3&timeOffset=0.5", headers=alice)
    audio = decoded(await mp3.get_data(), "mp3")
    assert mp3.headers["Content-Type"] == "audio/mpeg" and 0.3 < audio.info.length < 0.75
    # A bitrate cap below the file's, without a format: the configured default (opus).
    capped = await client.get(f"{url}?maxBitRate=32", headers=alice)
    assert (await capped.get_data()).startswith(b"OggS") and capped.headers["Accept-Ranges"] == "none"

    assert (await get(client, f"{url}?format=wav", alice, status=400))["error"]["code"] == "invalid_request"
    await get(client, f"{url}?timeOffset=-1", alice, status=400)
    shark = await find(client, music.bob, "baby")
    await get(client, shark["streamUrl"], alice, status=404)  # bob's folder, not alice's

    # A file that disappeared since the scan is a 404, not a 500.
    queen = await find(client, alice, "bohemian")
    moved = tmp_path / "away.mp3"
    source = collection["main"] / "Queen/Greatest Hits/01.mp3"
    shutil.copy(source, moved)
    source.unlink()
    try:
        await get(client, queen["streamUrl"], alice, status=404)
    finally:
        shutil.copy(moved, source)


async def test_covers_embedded_and_folder_art_thumbnails_and_caching(music, collection):
    app, client, alice = music.app, music.client, music.alice
    albums = (await get(client, "/api/music/albums?type=alphabeticalByName", alice))["albums"]
    lemonade = next(a for a in albums if a["name"] == "Lemonade")
    folder_art = (collection["main"] / "Beyoncé/Lemonade/cover.jpg").read_bytes()
    assert lemonade["coverId"] == hashlib.sha1(folder_art).hexdigest()
    assert lemonade["coverUrl"] == f"/api/music/covers/{lemonade['coverId']}?size=300"
    queen = await find(client, alice, "bohemian")
    embedded = (collection["main"].parent / "embedded.jpg").read_bytes()
    assert queen["coverId"] == hashlib.sha1(embedded).hexdigest()
    assert (await find(client, alice, "hoppipolla"))["coverId"] is None  # no art at all
    beyonce = (await get(client, "/api/music/search?q=beyonce", alice))["artists"][0]
    assert beyonce["coverId"] == lemonade["coverId"]

    thumb = await client.get(lemonade["coverUrl"], headers=alice)
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    assert thumb.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert Image.open(io.BytesIO(await thumb.get_data())).size == (300, 225)
    again = await client.get(lemonade["coverUrl"], headers={**alice, "If-None-Match": thumb.headers["ETag"]})
    assert again.status_code == 304
    # Sizes are the configured ones: 1000 gets the biggest (600), 10 the smallest (64).
    big = await client.get(f"/api/music/covers/{lemonade['coverId']}?size=1000", headers=alice)
    assert Image.open(io.BytesIO(await big.get_data())).size == (600, 450)
    small = await client.get(f"/api/music/covers/{queen['coverId']}?size=10", headers=alice)
    assert Image.open(io.BytesIO(await small.get_data())).size == (64, 64)
    original = await client.get(f"/api/music/covers/{queen['coverId']}", headers=alice)
    assert await original.get_data() == embedded

    # The cache is a cache: lost, every cover comes back from where the scanner found it.
    shutil.rmtree(app.extensions["mediahub"].settings.server.data_dir / "music-library" / "covers")
    for cover_id in (lemonade["coverId"], queen["coverId"]):
        response = await client.get(f"/api/music/covers/{cover_id}?size=64", headers=alice)
        assert response.status_code == 200, cover_id
    await get(client, "/api/music/covers/" + "0" * 40, alice, status=404)
    await get(client, "/api/music/covers/../../secret_key", alice, status=404)
