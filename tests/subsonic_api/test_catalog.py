"""The collection through a real Subsonic client (py-sonic): browsing, lists, search, lyrics.

Every JSON answer is checked against the OpenSubsonic schema of its endpoint; the XML of the
same call is parsed as DSub parses it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import libsonic
import pytest

from tests.support.subsonic import token_params
from tests.subsonic_api.spec import assert_valid

NS = "{http://subsonic.org/restapi}"


@pytest.fixture(scope="module")
def sonic(server, alice) -> libsonic.Connection:
    return libsonic.Connection("http://127.0.0.1", alice.username, alice.app_password,
                               port=int(server.url.rsplit(":", 1)[1]), appName="pytest")


def valid(endpoint: str, answer: dict) -> dict:
    """py-sonic returns the inside of subsonic-response; the schema covers the document."""
    assert_valid(endpoint, {"subsonic-response": answer})
    return answer


def xml(api, alice, endpoint: str, **params) -> ET.Element:
    status, content_type, body, _ = api.request(endpoint, {**token_params(alice), **params})
    assert status == 200 and content_type.startswith("text/xml")
    root = ET.fromstring(body)
    assert root.attrib["status"] == "ok", body[:300]
    return root


@pytest.fixture(scope="module")
def ids(sonic) -> dict:
    """Names to ids, found by browsing the way an app does."""
    found = {}
    for index in valid("getArtists", sonic.getArtists())["artists"]["index"]:
        for artist in index["artist"]:
            found[artist["name"]] = artist["id"]
            for album in valid("getArtist", sonic.getArtist(artist["id"]))["artist"]["album"]:
                found[album["name"]] = album["id"]
                for song in valid("getAlbum", sonic.getAlbum(album["id"]))["album"]["song"]:
                    found[song["title"]] = song["id"]
    return found


def test_artists_index_albums_and_songs(sonic, ids, api, alice):
    indexes = sonic.getArtists()["artists"]["index"]
    # Articles are ignored ("The Testers" files under T), accents fold ("Ångström" under A).
    assert [(i["name"], [a["name"] for a in i["artist"]]) for i in indexes] == [
        ("A", ["Ångström"]), ("T", ["The Testers"])]
    album = sonic.getAlbum(ids["First Light"])["album"]
    assert (album["name"], album["artist"], album["songCount"], album["year"]) == (
        "First Light", "The Testers", 3, 2019)
    songs = album["song"]
    assert [s["title"] for s in songs] == ["Dawn", "Noon", "Dusk"]
    dawn = songs[0]
    assert (dawn["track"], dawn["duration"], dawn["suffix"], dawn["genre"], dawn["isDir"]) == (
        1, 2, "mp3", "Rock", False)
    assert dawn["contentType"] == "audio/mpeg" and dawn["albumId"] == album["id"]
    assert songs[2]["suffix"] == "flac"
    assert valid("getSong", sonic.getSong(ids["Noon"]))["song"]["title"] == "Noon"
    # DSub reads the same answers as XML: elements and attributes.
    root = xml(api, alice, "getAlbum", id=ids["First Light"])
    titles = [song.attrib["title"] for song in root.find(f"{NS}album").findall(f"{NS}song")]
    assert titles == ["Dawn", "Noon", "Dusk"]
    assert root.find(f"{NS}album").find(f"{NS}song").attrib["isDir"] == "false"


def test_folders_and_directories(sonic, ids, api, alice):
    folders = valid("getMusicFolders", sonic.getMusicFolders())["musicFolders"]["musicFolder"]
    assert len(folders) == 1
    # py-sonic turns lastModified into float seconds: check the raw answer against the schema.
    raw = api.json("getIndexes", token_params(alice))
    assert_valid("getIndexes", raw)
    indexes = raw["subsonic-response"]["indexes"]["index"]
    assert sum(len(i["artist"]) for i in indexes) == 2
    root = valid("getMusicDirectory", sonic.getMusicDirectory(str(folders[0]["id"])))["directory"]
    assert {c["title"] for c in root["child"]} == {"Ångström", "The Testers"}
    artist = valid("getMusicDirectory", sonic.getMusicDirectory(ids["The Testers"]))["directory"]
    assert [(c["title"], c["isDir"]) for c in artist["child"]] == [("First Light", True)]
    album = valid("getMusicDirectory", sonic.getMusicDirectory(ids["Wavelengths"]))["directory"]
    assert [c["title"] for c in album["child"]] == ["Blue", "Red"]


def album_names(answer: dict, key: str = "albumList2") -> list[str]:
    return [a["name"] if "name" in a else a["title"] for a in answer[key].get("album", [])]


def test_album_lists(sonic):
    def names(kind, **kw):
        return album_names(valid("getAlbumList2", sonic.getAlbumList2(kind, **kw)))

    assert names("alphabeticalByName") == ["First Light", "Wavelengths"]
    assert names("alphabeticalByArtist") == ["Wavelengths", "First Light"]  # Ångström, Testers
    assert sorted(names("newest")) == sorted(names("random")) == ["First Light", "Wavelengths"]
    assert names("byYear", fromYear=2020, toYear=2023) == ["Wavelengths"]
    assert names("byGenre", genre="Rock") == ["First Light"]
    assert names("alphabeticalByName", size=1, offset=1) == ["Wavelengths"]
    legacy = valid("getAlbumList", sonic.getAlbumList("alphabeticalByName"))
    assert album_names(legacy, "albumList") == ["First Light", "Wavelengths"]
    assert all(a["isDir"] for a in legacy["albumList"]["album"])


@pytest.mark.parametrize("params, code", [
    ({"type": "byGenre"}, 10), ({"type": "byYear", "fromYear": "2000"}, 10),
    ({"type": "sideways"}, 0), ({}, 10), ({"type": "newest", "size": "ten"}, 0),
    ({"type": "newest", "offset": "-1"}, 0),
])
def test_album_list_bad_parameters(api, alice, params, code):
    answer = api.json("getAlbumList2", {**token_params(alice), **params})["subsonic-response"]
    assert answer["status"] == "failed" and answer["error"]["code"] == code


def test_missing_and_unknown_ids(api, alice):
    for endpoint in ("getAlbum", "getArtist", "getSong", "getMusicDirectory", "getLyricsBySongId"):
        missing = api.json(endpoint, token_params(alice))["subsonic-response"]
        assert missing["error"]["code"] == 10, endpoint
        unknown = api.json(endpoint, {**token_params(alice), "id": "al-nope"})["subsonic-response"]
        assert unknown["error"]["code"] == 70, endpoint


def test_random_songs_genres_and_songs_by_genre(sonic):
    songs = valid("getRandomSongs", sonic.getRandomSongs(size=3))["randomSongs"]["song"]
    assert len(songs) == 3 and len({s["id"] for s in songs}) == 3
    ambient = sonic.getRandomSongs(size=10, genre="Ambient")["randomSongs"]["song"]
    assert sorted(s["title"] for s in ambient) == ["Blue", "Red"]
    genres = valid("getGenres", sonic.getGenres())["genres"]["genre"]
    assert {(g["value"], g["songCount"], g["albumCount"]) for g in genres} == {
        ("Rock", 3, 1), ("Ambient", 2, 1)}
    rock = valid("getSongsByGenre", sonic.getSongsByGenre("Rock", count=2, offset=1))
    assert len(rock["songsByGenre"]["song"]) == 2


def test_search3_empty_query_pages_through_everything(sonic, api, alice):
    seen = []
    for offset in (0, 2, 4, 6):
        answer = valid("search3", sonic.search3("", artistCount=0, albumCount=0, songCount=2,
                                                songOffset=offset))
        seen += [s["id"] for s in answer["searchResult3"].get("song", [])]
    assert len(seen) == len(set(seen)) == 5
    # Some apps send the two quote characters themselves.
    quoted = api.json("search3", {**token_params(alice), "query": '""', "songCount": 10})
    assert len(quoted["subsonic-response"]["searchResult3"]["song"]) == 5
    found = valid("search3", sonic.search3("angst"))["searchResult3"]
    assert [a["name"] for a in found["artist"]] == ["Ångström"]
    assert [a["name"] for a in found["album"]] == ["Wavelengths"]
    dusk = sonic.search3("dusk")["searchResult3"]
    assert [s["title"] for s in dusk["song"]] == ["Dusk"] and not dusk.get("artist")
    legacy = valid("search2", sonic.search2("testers"))["searchResult2"]
    assert [a["name"] for a in legacy["artist"]] == ["The Testers"]


def test_search3_empty_query_lists_every_song_in_title_order_as_get_song_shows_it(sonic, ids):
    """What an app syncing everything gets (search3 "", pages of songs): the songs in title
    order, page after page, each the same Child as getSong's; artists and albums by name."""
    whole = valid("search3", sonic.search3("", artistCount=10, albumCount=10, songCount=10))
    result = whole["searchResult3"]
    assert [s["title"] for s in result["song"]] == ["Blue", "Dawn", "Dusk", "Noon", "Red"]
    assert [a["name"] for a in result["album"]] == ["First Light", "Wavelengths"]
    assert [a["name"] for a in result["artist"]] == ["Ångström", "The Testers"]
    paged = []
    for offset in (0, 2, 4):
        answer = valid("search3", sonic.search3("", artistCount=0, albumCount=0, songCount=2,
                                                songOffset=offset))["searchResult3"]
        assert not answer.get("artist") and not answer.get("album")
        paged += answer["song"]
    assert paged == result["song"]
    for song in result["song"]:
        assert song == valid("getSong", sonic.getSong(song["id"]))["song"]
    dawn = next(s for s in result["song"] if s["title"] == "Dawn")
    assert (dawn["id"], dawn["album"], dawn["artist"], dawn["track"], dawn["year"], dawn["genre"],
            dawn["suffix"], dawn["albumId"]) == (ids["Dawn"], "First Light", "The Testers", 1,
                                                 2019, "Rock", "mp3", ids["First Light"])
    assert dawn["coverArt"] and dawn["created"].endswith("Z") and dawn["duration"] == 2
    blue = next(s for s in result["song"] if s["title"] == "Blue")
    assert (blue["suffix"], blue["path"]) == ("ogg", "Ångström/Wavelengths/01 Blue.ogg")


def test_lyrics(sonic, api, alice, ids):
    answer = api.json("getLyricsBySongId", {**token_params(alice), "id": ids["Dawn"]})
    assert_valid("getLyricsBySongId", answer)
    (lyrics,) = answer["subsonic-response"]["lyricsList"]["structuredLyrics"]
    assert lyrics["synced"] is True
    assert [(line["start"], line["value"]) for line in lyrics["line"]] == [
        (500, "First line"), (1200, "Second line")]
    none = api.json("getLyricsBySongId", {**token_params(alice), "id": ids["Noon"]})
    assert none["subsonic-response"]["lyricsList"]["structuredLyrics"] == []
