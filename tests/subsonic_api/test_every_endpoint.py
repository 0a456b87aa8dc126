"""Every endpoint, called as an app calls it: its JSON answer valid under the OpenSubsonic schema of
that endpoint (ours for the listeningParty extension), its XML well-formed with the same status,
and a failed call valid under the schema's failure branch too. The table must name every
endpoint the plugin registers, so a new one cannot ship unchecked."""

from __future__ import annotations

import json
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from mediahub_subsonic_api.endpoints import load_all
from tests.support.subsonic import make_account, token_params
from tests.subsonic_api.spec import ENDPOINT_SCHEMAS, assert_valid

NS = "{http://subsonic.org/restapi}"
# Binary on success (audio or an image); their failures are subsonic-responses like any other.
BINARY = {"stream": "audio/", "download": "audio/", "getCoverArt": "image/"}


@pytest.fixture(scope="module")
def account(server):
    return make_account(server.url, "schemer")


@pytest.fixture(scope="module")
def known(api, account) -> dict:
    """Ids an app would have found by browsing."""
    answer = api.json("search3", {**token_params(account), "query": "dawn"})
    dawn = answer["subsonic-response"]["searchResult3"]["song"][0]
    req = urllib.request.Request(f"{api.url}/api/parties", data=b"{}", headers={
        "Authorization": f"Bearer {account.bearer}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as response:
        code = json.load(response)["code"]
    return {"song": dawn["id"], "album": dawn["albumId"], "artist": dawn["artistId"],
            "cover": dawn["coverArt"], "party": code}


def calls(known: dict, playlist: dict) -> list[tuple[str, object]]:
    """(endpoint, parameters) in an order that works: a playlist is made before it is changed.
    Parameters may be a function of the answers so far (the new playlist's id)."""
    song, album, artist = known["song"], known["album"], known["artist"]
    return [
        ("ping", {}), ("getLicense", {}), ("getOpenSubsonicExtensions", {}), ("tokenInfo", {}),
        ("getUser", {}), ("getMusicFolders", {}), ("getIndexes", {}), ("getArtists", {}),
        ("getMusicDirectory", {"id": album}), ("getArtist", {"id": artist}),
        ("getAlbum", {"id": album}), ("getSong", {"id": song}),
        ("getAlbumList", {"type": "newest"}), ("getAlbumList2", {"type": "alphabeticalByName"}),
        ("getRandomSongs", {"size": 3}), ("getGenres", {}), ("getSongsByGenre", {"genre": "Rock"}),
        ("search2", {"query": "testers"}), ("search3", {"query": ""}),
        ("getLyricsBySongId", {"id": song}), ("getLyrics", {"artist": "The Testers", "title": "Dawn"}),
        ("star", {"id": song, "albumId": album}), ("getStarred", {}), ("getStarred2", {}),
        ("unstar", {"id": song, "albumId": album}), ("setRating", {"id": album, "rating": 4}),
        ("scrobble", {"id": song, "submission": "false"}), ("getNowPlaying", {}),
        ("createPlaylist", {"name": "Schema", "songId": song}), ("getPlaylists", {}),
        ("getPlaylist", lambda: {"id": playlist["id"]}),
        ("updatePlaylist", lambda: {"playlistId": playlist["id"], "name": "Schema 2",
                                    "songIdToAdd": song}),
        ("deletePlaylist", lambda: {"id": playlist["id"]}),
        ("savePlayQueue", {"id": song, "current": song, "position": 1000}), ("getPlayQueue", {}),
        ("stream", {"id": song}), ("download", {"id": song}),
        ("getCoverArt", {"id": known["cover"], "size": 64}),
        ("joinListeningParty", {"code": known["party"]}), ("getListeningParties", {}),
        ("getListeningParty", {"code": known["party"]}),
    ]


def schema_name(endpoint: str) -> str:
    # An answer with nothing in it is the bare subsonic-response (ping's schema).
    return endpoint if endpoint in ENDPOINT_SCHEMAS else "ping"


def test_every_endpoint_answers_valid_json_and_well_formed_xml(api, account, known):
    playlist: dict = {}
    table = calls(known, playlist)
    assert {name for name, _ in table} == set(load_all()), "every endpoint is in the table"
    problems = []
    for endpoint, params in table:
        params = params() if callable(params) else params
        query = {**token_params(account), **params}
        if endpoint in BINARY:
            status, content_type, body, _ = api.request(endpoint, query)
            assert status == 200 and content_type.startswith(BINARY[endpoint]), (endpoint, content_type)
            assert len(body) > 100, endpoint
            continue
        status, content_type, body, _ = api.request(endpoint, {**query, "f": "json"})
        assert status == 200 and content_type.startswith("application/json"), (endpoint, status)
        document = json.loads(body)
        answer = document["subsonic-response"]
        if answer["status"] != "ok":
            problems.append(f"{endpoint}: {answer.get('error')}")
            continue
        try:
            assert_valid(schema_name(endpoint), document)
        except AssertionError as error:
            problems.append(str(error))
        if endpoint == "createPlaylist":
            playlist["id"] = answer["playlist"]["id"]
        # The same call in XML (the default, and all DSub reads). Mutations are not repeated.
        if endpoint in ("createPlaylist", "updatePlaylist", "deletePlaylist", "joinListeningParty"):
            continue
        status, content_type, body, _ = api.request(endpoint, query)
        assert content_type.startswith("text/xml"), (endpoint, content_type)
        root = ET.fromstring(body)
        assert root.tag == f"{NS}subsonic-response" and root.attrib["status"] == "ok", (endpoint, body[:200])
        assert root.attrib["openSubsonic"] == "true" and root.attrib["type"] == "mediahub"
    assert not problems, "\n".join(problems)


# A failing call per endpoint: no id, or one nobody has.
FAILING = {name: {"id": "tr-nobody"} for name in (
    "getMusicDirectory", "getArtist", "getAlbum", "getSong", "getLyricsBySongId", "setRating",
    "stream", "download", "getCoverArt", "getPlaylist", "deletePlaylist")}
FAILING.update({"getAlbumList": {"type": "sideways"}, "getAlbumList2": {},
                "getSongsByGenre": {}, "createPlaylist": {}, "updatePlaylist": {},
                "star": {"id": "tr-nobody"}, "scrobble": {}, "getListeningParty": {"code": "NOPE99"},
                "joinListeningParty": {}, "getUser": {"username": "nobody-at-all"},
                "savePlayQueue": {"id": "tr-nobody", "position": "minus"}})


@pytest.mark.parametrize("endpoint", sorted(FAILING))
def test_failures_are_valid_subsonic_errors_in_json_and_xml(api, account, endpoint):
    query = {**token_params(account), **FAILING[endpoint]}
    status, _, body, _ = api.request(endpoint, {**query, "f": "json"})
    document = json.loads(body)
    assert status == 200 and document["subsonic-response"]["status"] == "failed", (endpoint, body[:300])
    assert_valid(schema_name(endpoint), document)
    code = document["subsonic-response"]["error"]["code"]
    root = ET.fromstring(api.request(endpoint, query)[2])
    assert root.attrib["status"] == "failed" and root.find(f"{NS}error").attrib["code"] == str(code)


def test_wrong_credentials_are_valid_errors_for_every_endpoint(api, account):
    # A wrong token of this module's own account (last here: the throttle then blocks it).
    wrong = {**token_params(account), "t": "0" * 32, "f": "json"}
    for endpoint in sorted(load_all()):
        if load_all()[endpoint].auth != "required":
            continue
        status, _, body, _ = api.request(endpoint, wrong)
        document = json.loads(body)
        assert status == 200 and document["subsonic-response"]["error"]["code"] == 40, endpoint
        assert_valid(schema_name(endpoint), document)
