"""One library whatever the client: stars, plays, ratings, playlists and the play queue over
Subsonic are library-sync's favorites, history, playlists and queue, as the browser sees them."""

from __future__ import annotations

import json
import urllib.request

import libsonic
import pytest

from tests.support.subsonic import make_account, token_params
from tests.subsonic_api.spec import assert_valid


def connect(server, account) -> libsonic.Connection:
    return libsonic.Connection("http://127.0.0.1", account.username, account.app_password,
                               port=int(server.url.rsplit(":", 1)[1]), appName="pytest")


def valid(endpoint: str, answer: dict) -> dict:
    assert_valid(endpoint, {"subsonic-response": answer})
    return answer


def browser_library(server, account) -> dict:
    req = urllib.request.Request(f"{server.url}/api/me/library",
                                 headers={"Authorization": f"Bearer {account.bearer}"})
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.load(response)


def browser_put(server, account, section: str, body: dict) -> dict:
    req = urllib.request.Request(f"{server.url}/api/me/{section}", method="PUT",
                                 data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {account.bearer}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def listener(server):
    """A fresh account per module, so stars and plays of other tests do not mix in."""
    return make_account(server.url, "gina")


@pytest.fixture(scope="module")
def sonic(server, listener):
    return connect(server, listener)


@pytest.fixture(scope="module")
def songs(sonic) -> dict:
    answer = sonic.search3("", artistCount=0, albumCount=0, songCount=50)
    return {s["title"]: s for s in answer["searchResult3"]["song"]}


def test_a_star_in_an_app_is_a_heart_in_the_browser(server, sonic, listener, songs):
    dawn, blue = songs["Dawn"], songs["Blue"]
    sonic.star(sids=[dawn["id"]], albumIds=[blue["albumId"]], artistIds=[dawn["artistId"]])
    favorites = {f["videoId"]: f for f in browser_library(server, listener)["favorites"]}
    assert {dawn["id"], blue["albumId"], dawn["artistId"]} <= set(favorites)
    assert favorites[dawn["id"]]["title"] == "Dawn"
    starred = valid("getStarred2", sonic.getStarred2())["starred2"]
    assert [s["title"] for s in starred["song"]] == ["Dawn"] and starred["song"][0]["starred"]
    assert [a["name"] for a in starred["album"]] == ["Wavelengths"]
    assert [a["name"] for a in starred["artist"]] == ["The Testers"]
    legacy = valid("getStarred", sonic.getStarred())["starred"]
    assert [s["title"] for s in legacy["song"]] == ["Dawn"]
    album = sonic.getAlbum(dawn["albumId"])["album"]
    assert [bool(s.get("starred")) for s in album["song"]] == [True, False, False]
    listed = sonic.getAlbumList2("starred")["albumList2"]["album"]
    assert [a["name"] for a in listed] == ["Wavelengths"]
    sonic.unstar(sids=[dawn["id"]])
    assert dawn["id"] not in {f["videoId"] for f in browser_library(server, listener)["favorites"]}
    assert not sonic.getStarred2()["starred2"].get("song")


def test_ratings(sonic, songs, api, listener):
    wavelengths = songs["Blue"]["albumId"]
    sonic.setRating(wavelengths, 4)
    assert sonic.getAlbum(wavelengths)["album"]["userRating"] == 4
    assert [a["id"] for a in sonic.getAlbumList2("highest")["albumList2"]["album"]] == [wavelengths]
    sonic.setRating(wavelengths, 0)
    assert "userRating" not in sonic.getAlbum(wavelengths)["album"]
    bad = api.json("setRating", {**token_params(listener), "id": wavelengths, "rating": "9"})
    assert bad["subsonic-response"]["error"]["code"] == 0
    gone = api.json("setRating", {**token_params(listener), "id": "al-nope", "rating": "3"})
    assert gone["subsonic-response"]["error"]["code"] == 70


def test_scrobbles_are_plays_and_now_playing(server, sonic, listener, songs, api):
    for title in ("Dawn", "Blue", "Red", "Red"):
        sonic.scrobble(songs[title]["id"], submission=True)
    history = [h["videoId"] for h in browser_library(server, listener)["history"]]
    assert history[:4] == [songs[t]["id"] for t in ("Red", "Red", "Blue", "Dawn")]
    recent = valid("getAlbumList2", sonic.getAlbumList2("recent"))["albumList2"]["album"]
    assert [a["name"] for a in recent] == ["Wavelengths", "First Light"]
    frequent = sonic.getAlbumList2("frequent")["albumList2"]["album"]
    assert [a["name"] for a in frequent] == ["Wavelengths", "First Light"]
    sonic.scrobble(songs["Noon"]["id"], submission=False)
    playing = valid("getNowPlaying", sonic.getNowPlaying())["nowPlaying"]["entry"]
    mine = [e for e in playing if e["username"] == listener.username]
    assert [(e["title"], e["playerName"], e["minutesAgo"]) for e in mine] == [("Noon", "pytest", 0)]
    # A "now playing" report is not a play.
    assert songs["Noon"]["id"] not in [h["videoId"] for h in browser_library(server, listener)["history"]]


def test_playlists(server, sonic, listener, songs, api):
    ids = [songs[t]["id"] for t in ("Dawn", "Noon", "Blue")]
    created = valid("createPlaylist", sonic.createPlaylist(name="Road trip", songIds=ids))
    playlist_id = created["playlist"]["id"]
    assert created["playlist"]["songCount"] == 3
    listed = valid("getPlaylists", sonic.getPlaylists())["playlists"]["playlist"]
    assert [(p["name"], p["songCount"], p["owner"]) for p in listed] == [("Road trip", 3, "gina")]
    browser = {p["id"]: p for p in browser_library(server, listener)["playlists"]}
    assert [s["videoId"] for s in browser[playlist_id]["songs"]] == ids
    sonic.updatePlaylist(playlist_id, name="Road trip 2", songIdsToAdd=[songs["Red"]["id"]],
                         songIndexesToRemove=[1])
    entries = valid("getPlaylist", sonic.getPlaylist(playlist_id))["playlist"]
    assert entries["name"] == "Road trip 2"
    assert [e["title"] for e in entries["entry"]] == ["Dawn", "Blue", "Red"]
    sonic.createPlaylist(playlistId=playlist_id, songIds=[songs["Dusk"]["id"]])
    assert [e["title"] for e in sonic.getPlaylist(playlist_id)["playlist"]["entry"]] == ["Dusk"]
    bad = api.json("updatePlaylist", {**token_params(listener), "playlistId": playlist_id,
                                      "songIndexToRemove": "7"})
    assert bad["subsonic-response"]["error"]["code"] == 0
    # Another account cannot see or delete it.
    other = make_account(server.url, "hank")
    for endpoint in ("getPlaylist", "deletePlaylist"):
        refused = api.json(endpoint, {**token_params(other), "id": playlist_id})
        assert refused["subsonic-response"]["error"]["code"] == 70
    sonic.deletePlaylist(playlist_id)
    assert not sonic.getPlaylists()["playlists"].get("playlist")
    assert playlist_id not in {p["id"] for p in browser_library(server, listener)["playlists"]}


def test_the_play_queue_moves_between_app_and_browser(server, sonic, listener, songs):
    ids = [songs[t]["id"] for t in ("Blue", "Red", "Dawn")]
    sonic.savePlayQueue(ids, current=ids[1], position=1500)
    queue = valid("getPlayQueue", sonic.getPlayQueue())["playQueue"]
    assert [e["id"] for e in queue["entry"]] == ids
    assert (queue["current"], queue["position"], queue["username"]) == (ids[1], 1500, "gina")
    library = browser_library(server, listener)
    assert [item["videoId"] for item in library["queue"]] == ids
    assert library["queue_state"]["current"] == 1 and library["queue_state"]["positionSec"] == 1.5
    # The browser moves on; the app resumes where it left.
    browser_put(server, listener, "queue", {
        "since": library["version"], "queue": [{"videoId": ids[2], "position": 0}],
        "queue_state": {"current": 0, "positionSec": 42.0}})
    queue = sonic.getPlayQueue()["playQueue"]
    assert ([e["id"] for e in queue["entry"]], queue["current"], queue["position"]) == (
        [ids[2]], ids[2], 42000)
