"""library-sync request checks: stored items are recognised instead of re-validated, bad ones are named."""

from __future__ import annotations

import json

import pytest

from mediahub_library_sync.merge import merge_library
from mediahub_library_sync.schemas import FavoritesPut, SyncRequest
from mediahub_library_sync.state import LibraryState, section_items
from mediahub_library_sync.validation import InvalidRequest, check_sections, parse_request


def fav(video_id: str, **extra) -> dict:
    return {"videoId": video_id, "title": f"Title {video_id}", "duration": 180.0,
            "addedAt": "2025-12-28T10:00:00Z", **extra}


def song(video_id: str, **extra) -> dict:
    return {"videoId": video_id, "title": f"Song {video_id}", **extra}


def stored_library() -> LibraryState:
    device = {"favorites": [fav(f"v{i}") for i in range(4)],
              "playlists": [{"id": "pl_mix", "name": "Mix", "songs": [song("s1"), song("s2")]}]}
    request = parse_request(json.dumps(device).encode(), SyncRequest)
    return merge_library(LibraryState(), check_sections(request, LibraryState()), salt="u",
                         now=1.0).state


def request_from(state: LibraryState, **changes) -> dict:
    body = {"since": state.version, "favorites": section_items(state, "favorites"),
            "playlists": section_items(state, "playlists"), **changes}
    return parse_request(json.dumps(body).encode(), SyncRequest)


def test_items_equal_to_stored_ones_become_the_stored_objects():
    state = stored_library()
    checked = check_sections(request_from(state), state)
    for item in checked["favorites"]:
        assert item is state.favorites.items[item["videoId"]]
    pid = section_items(state, "playlists")[0]["id"]
    for item in checked["playlists"][0]["songs"]:
        assert item is state.playlists.songs[pid].items[item["videoId"]]


def test_new_and_edited_items_are_validated_and_lose_unknown_fields():
    state = stored_library()
    favorites = section_items(state, "favorites")
    edited = {**favorites[0], "title": "Renamed", "sparkles": True}
    request = request_from(state, favorites=[edited, *favorites[1:], fav("new", junk=[1])])
    checked = check_sections(request, state)["favorites"]
    assert checked[0] == {k: v for k, v in edited.items() if k != "sparkles"}
    assert checked[0] is not state.favorites.items[edited["videoId"]]
    assert "junk" not in checked[-1] and checked[-1]["videoId"] == "new"


def test_a_bad_item_among_stored_ones_is_named_by_its_place():
    state = stored_library()
    favorites = section_items(state, "favorites")
    favorites[2] = {**favorites[2], "addedAt": "yesterday"}  # edited into garbage
    with pytest.raises(InvalidRequest) as caught:
        check_sections(request_from(state, favorites=favorites), state)
    assert str(caught.value).startswith("favorites[2].addedAt: must be an ISO 8601 timestamp")
    playlists = section_items(state, "playlists")
    playlists[0]["songs"].append({"title": "no id"})
    with pytest.raises(InvalidRequest) as caught:
        check_sections(request_from(state, playlists=playlists), state)
    assert "playlists[0].songs[2].videoId: Field required" in str(caught.value)


@pytest.mark.parametrize("item", [5, "v1", ["v1"], {"videoId": ["v1"]}, {"videoId": 7},
                                  {"title": "no id"}])
def test_odd_items_are_refused_not_crashed_on(item):
    state = stored_library()
    favorites = [*section_items(state, "favorites"), item]
    with pytest.raises(InvalidRequest) as caught:
        check_sections(request_from(state, favorites=favorites), state)
    assert str(caught.value).startswith("favorites[4]")


@pytest.mark.parametrize("body, message", [
    (b"not json", "body: invalid JSON"),
    (b"[1, 2]", "body: must be a JSON object"),
    (b'{"since": "3"}', "since: Input should be a valid integer"),
    (b'{"since": 1e400}', "since:"),
    (b'{"device_id": "a b"}', "device_id:"),
    (b'{"favorites": {"videoId": "x"}}', "favorites: Input should be a valid list"),
    (b'{"history": [{"videoId": "x"}]}', "history[0].playedAt: Field required"),
    (b'{"preferences": {"repeat": "sometimes"}}', "preferences.repeat:"),
])
def test_the_envelope_is_checked_before_any_item(body, message):
    with pytest.raises(InvalidRequest) as caught:
        parse_request(body, SyncRequest)
    assert str(caught.value).startswith(message)


def test_a_put_needs_its_section_and_ignores_the_others():
    with pytest.raises(InvalidRequest, match="^favorites: Field required"):
        parse_request(b'{"since": 1}', FavoritesPut)
    request = parse_request(b'{"favorites": [], "playlists": [], "extra": 1}', FavoritesPut)
    assert request == {"favorites": []}


def test_too_many_items_is_refused_before_looking_at_them():
    body = json.dumps({"favorites": [{"not": "checked"}] * 10_001}).encode()
    with pytest.raises(InvalidRequest) as caught:
        parse_request(body, SyncRequest)
    assert str(caught.value) == "favorites: at most 10000 items (got 10001)"
    state = stored_library()
    playlists = section_items(state, "playlists")
    playlists[0]["songs"] = [song(f"s{i}") for i in range(1001)]
    with pytest.raises(InvalidRequest) as caught:
        check_sections(request_from(state, playlists=playlists), state)
    assert str(caught.value) == "playlists[0].songs: at most 1000 items (got 1001)"
