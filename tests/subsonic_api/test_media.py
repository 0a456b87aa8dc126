"""stream (original, transcoded, offset), download and getCoverArt, as apps fetch them."""

from __future__ import annotations

import io
import json

import libsonic
import pytest
from PIL import Image

from tests.support.subsonic import token_params


@pytest.fixture(scope="module")
def sonic(server, alice) -> libsonic.Connection:
    return libsonic.Connection("http://127.0.0.1", alice.username, alice.app_password,
                               port=int(server.url.rsplit(":", 1)[1]), appName="pytest")


@pytest.fixture(scope="module")
def songs(api, alice) -> dict:
    answer = api.json("search3", {**token_params(alice), "query": "", "songCount": 50})
    return {s["title"]: s for s in answer["subsonic-response"]["searchResult3"]["song"]}


def fetch(api, alice, endpoint, headers=None, **params):
    return api.request(endpoint, {**token_params(alice), **params}, headers=headers)


def failed_code(body: bytes) -> int:
    return json.loads(body)["subsonic-response"]["error"]["code"]


def test_stream_the_original_with_ranges(api, alice, songs, collection, sonic):
    dawn = songs["Dawn"]
    original = (collection / "The Testers/First Light/01 Dawn.mp3").read_bytes()
    status, content_type, body, headers = fetch(api, alice, "stream", id=dawn["id"])
    assert (status, content_type, body) == (200, "audio/mpeg", original)
    assert headers.get("Accept-Ranges") == "bytes"
    status, _, body, headers = fetch(api, alice, "stream", headers={"Range": "bytes=10-99"},
                                     id=dawn["id"])
    assert (status, body) == (206, original[10:100])
    assert headers["Content-Range"] == f"bytes 10-99/{len(original)}"
    # py-sonic (a real client) gets the same bytes; format=raw is the original too.
    assert sonic.stream(dawn["id"]).read() == original
    assert fetch(api, alice, "stream.view", id=dawn["id"], format="raw")[2] == original


def test_stream_transcoded_with_bitrate_format_and_offset(api, alice, songs, collection):
    dusk = songs["Dusk"]  # FLAC
    status, content_type, mp3, _ = fetch(api, alice, "stream", id=dusk["id"], format="mp3",
                                         maxBitRate="64")
    assert status == 200 and content_type == "audio/mpeg"
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF
    assert len(mp3) < (collection / "The Testers/First Light/03 Dusk.flac").stat().st_size
    # A bitrate below the file's alone asks for the configured transcode format.
    status, content_type, body, _ = fetch(api, alice, "stream", id=songs["Dawn"]["id"],
                                          maxBitRate="32")
    assert status == 200 and not content_type.startswith("text/") and body
    # transcodeOffset: starting 1 s into a 2 s song gives about half the audio.
    whole = fetch(api, alice, "stream", id=songs["Dawn"]["id"], format="mp3", maxBitRate="64")[2]
    late = fetch(api, alice, "stream", id=songs["Dawn"]["id"], format="mp3", maxBitRate="64",
                 timeOffset="1")[2]
    assert 0 < len(late) < len(whole) * 0.8


def test_download_and_unknown_songs(api, alice, songs, collection):
    status, _, body, headers = fetch(api, alice, "download", id=songs["Blue"]["id"])
    assert status == 200
    assert body == (collection / "Ångström/Wavelengths/01 Blue.ogg").read_bytes()
    assert headers["Content-Disposition"].startswith("attachment;")
    for endpoint in ("stream", "download"):
        status, content_type, body, _ = fetch(api, alice, endpoint, id="tr-nope", f="json")
        assert status == 200 and failed_code(body) == 70


def test_cover_art_by_any_id_and_size(api, alice, songs):
    dawn = songs["Dawn"]
    for cover_id in (dawn["coverArt"], dawn["albumId"], dawn["id"]):
        status, content_type, body, _ = fetch(api, alice, "getCoverArt", id=cover_id)
        assert status == 200 and content_type.startswith("image/"), (cover_id, body[:200])
        assert Image.open(io.BytesIO(body)).size == (320, 320)
    status, _, body, _ = fetch(api, alice, "getCoverArt", id=dawn["albumId"], size="64")
    assert status == 200 and max(Image.open(io.BytesIO(body)).size) <= 64
    status, _, body, _ = fetch(api, alice, "getCoverArt", id="al-nope", f="json")
    assert status == 200 and failed_code(body) == 70
