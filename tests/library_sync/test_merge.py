"""library-sync merge rules: examples of each rule, then hypothesis properties over random device edits."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mediahub_library_sync.merge import (merge_history, merge_library, purge_tombstones,
                                         server_playlist_id)
from mediahub_library_sync.rows import changed_favorites, changed_playlists
from mediahub_library_sync.schemas import HISTORY_LIMIT, RECENT_SEARCHES_LIMIT
from mediahub_library_sync.state import SECTIONS, LibraryState, section_items

SALT = "user-1"
NOW = 1_780_000_000.0  # mid-2026: the test timestamps (2025) are in its past


def fav(video_id: str, title: str = "", added: str = "2025-01-01T00:00:00Z") -> dict:
    return {"videoId": video_id, "title": title or video_id, "addedAt": added}


def view(state: LibraryState) -> dict:
    return {name: section_items(state, name) for name in SECTIONS}


def device_from(state: LibraryState, **changes) -> dict:
    """What a device holds after storing the server's answer (plus its own edits)."""
    snapshot = {"since": state.version, **copy.deepcopy(view(state))}
    snapshot.update(changes)
    return snapshot


def sync(state: LibraryState, device: dict, now: float = NOW) -> LibraryState:
    return merge_library(state, device, salt=SALT, now=now).state


def favorite_ids(state: LibraryState) -> list[str]:
    return [f["videoId"] for f in section_items(state, "favorites")]


# -- the rules, by example -----------------------------------------------------------------


def test_a_deletion_is_not_undone_by_a_device_that_still_has_the_item():
    server = sync(LibraryState(), {"favorites": [fav("a"), fav("b")]})
    laptop, phone = device_from(server), device_from(server)
    laptop["favorites"] = [fav("b")]
    server = sync(server, laptop)
    assert favorite_ids(server) == ["b"]
    server = sync(server, phone)  # the phone still has "a": the seed's union brought it back
    assert favorite_ids(server) == ["b"]


def test_an_item_the_device_never_saw_is_not_a_deletion():
    server = sync(LibraryState(), {"favorites": [fav("a")]})
    phone = device_from(server)
    server = sync(server, {"since": server.version, "favorites": [fav("a"), fav("new")]})
    server = sync(server, phone)  # the phone lacks "new" because it never saw it
    assert sorted(favorite_ids(server)) == ["a", "new"]


def test_re_adding_after_seeing_the_deletion_brings_the_item_back():
    server = sync(LibraryState(), {"favorites": [fav("a")]})
    server = sync(server, device_from(server, favorites=[]))
    assert favorite_ids(server) == []
    server = sync(server, device_from(server, favorites=[fav("a")]))
    assert favorite_ids(server) == ["a"]


def test_a_device_with_a_clock_an_hour_ahead_cannot_overwrite_newer_edits():
    server = sync(LibraryState(), {"favorites": [fav("a", "Old title")]})
    stale = device_from(server)
    server = sync(server, device_from(server, favorites=[fav("a", "New title")]))
    # The stale device's copy claims to be from the future; its since is what counts.
    stale["favorites"] = [fav("a", "Old title", added="2099-01-01T00:00:00Z")]
    server = sync(server, stale)
    assert section_items(server, "favorites")[0]["title"] == "New title"


def test_an_edit_on_an_up_to_date_device_wins():
    server = sync(LibraryState(), {"favorites": [fav("a", "Old")]})
    server = sync(server, device_from(server, favorites=[fav("a", "New")]))
    assert section_items(server, "favorites")[0]["title"] == "New"


def test_history_is_merged_in_time_order_deduplicated_and_capped():
    plays = [{"videoId": f"v{i}", "playedAt": f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}Z"}
             for i in range(600)]
    history, added, _ = merge_history([], plays[:300])
    history, added, _ = merge_history(history, plays[200:] + plays[:10])
    assert len(history) == HISTORY_LIMIT
    assert history[0]["videoId"] == "v599" and history[-1]["videoId"] == "v100"
    # The same play written with another offset spelling is the same play.
    same = {"videoId": "v599", "playedAt": "2025-01-01T01:09:59+01:00"}
    merged = merge_history(history, [same])[0]
    assert [h["videoId"] for h in merged] == [h["videoId"] for h in history]


def test_queue_and_preferences_follow_the_device_that_changed_them_last():
    server = sync(LibraryState(), {"queue": [{"videoId": "q1"}], "preferences": {"shuffle": True}})
    stale = device_from(server)
    server = sync(server, device_from(server, queue=[{"videoId": "q2"}],
                                      preferences={"shuffle": False, "volume": 0.5}))
    stale["queue"] = [{"videoId": "q0"}]
    stale["preferences"] = {"shuffle": True, "repeat": "all"}
    server = sync(server, stale)
    assert section_items(server, "queue") == [{"videoId": "q2"}]
    # Per preference: the stale device cannot undo shuffle, but repeat was its own change.
    assert section_items(server, "preferences") == {"shuffle": False, "volume": 0.5,
                                                    "repeat": "all"}


def test_recent_searches_deduplicated_newest_twenty():
    searches = [f"search {i}" for i in range(30)] + ["SEARCH 1"]
    server = sync(LibraryState(), {"recent_searches": searches})
    kept = section_items(server, "recent_searches")
    assert kept == [f"search {i}" for i in range(RECENT_SEARCHES_LIMIT)]


def test_local_playlist_ids_get_stable_server_ids():
    outcome = merge_library(LibraryState(), {"playlists": [
        {"id": "pl_local", "name": "Mix", "songs": [{"videoId": "s1"}]}]}, salt=SALT, now=NOW)
    server_id = outcome.playlist_id_map["pl_local"]
    assert server_id.startswith("playlist_") and server_id == server_playlist_id(SALT, "pl_local")
    # The same sync again (a retry after a lost answer) does not make a second playlist.
    again = merge_library(outcome.state, {"since": 0, "playlists": [
        {"id": "pl_local", "name": "Mix", "songs": [{"videoId": "s1"}]}]}, salt=SALT, now=NOW)
    assert [p["id"] for p in section_items(again.state, "playlists")] == [server_id]
    assert server_playlist_id("user-2", "pl_local") != server_id


def test_playlist_song_deletions_and_reorders_propagate():
    server = sync(LibraryState(), {"playlists": [
        {"id": "pl_x", "name": "Mix", "songs": [{"videoId": "a"}, {"videoId": "b"}, {"videoId": "c"}]}]})
    stale = device_from(server)
    edited = device_from(server)
    edited["playlists"][0]["songs"] = [{"videoId": "c"}, {"videoId": "a"}]
    server = sync(server, edited)
    server = sync(server, stale)
    songs = [s["videoId"] for s in section_items(server, "playlists")[0]["songs"]]
    assert songs == ["c", "a"]


def test_a_device_away_longer_than_the_retention_gets_a_full_replacement():
    server = sync(LibraryState(), {"favorites": [fav("a"), fav("b")]})
    away = device_from(server)
    server = sync(server, device_from(server, favorites=[fav("b")]), now=NOW)
    server, removed = purge_tombstones(server, cutoff=NOW + 1)
    assert removed == 1 and server.horizon > away["since"]
    outcome = merge_library(server, away, salt=SALT, now=NOW + 2)
    assert outcome.full_replacement and favorite_ids(outcome.state) == ["b"]


def test_garbage_versions_get_a_full_replacement_not_a_merge():
    server = sync(LibraryState(), {"favorites": [fav("a")]})
    outcome = merge_library(server, {"since": 10**9, "favorites": []}, salt=SALT, now=NOW)
    assert outcome.full_replacement and favorite_ids(outcome.state) == ["a"]


# -- properties ---------------------------------------------------------------------------

VIDEO_IDS = [f"v{i}" for i in range(8)]
SONG_IDS = [f"s{i}" for i in range(6)]
LOCAL_PLAYLISTS = ["pl_a", "pl_b", "pl_c"]

favorites_st = st.lists(st.builds(fav, st.sampled_from(VIDEO_IDS), st.sampled_from(["", "t1", "t2"])),
                        max_size=8, unique_by=lambda f: f["videoId"])
songs_st = st.lists(st.builds(lambda v: {"videoId": v}, st.sampled_from(SONG_IDS)), max_size=6,
                    unique_by=lambda s: s["videoId"])
playlists_st = st.lists(st.builds(lambda i, n, s: {"id": i, "name": n, "songs": s},
                                  st.sampled_from(LOCAL_PLAYLISTS), st.sampled_from(["A", "B"]), songs_st),
                        max_size=3, unique_by=lambda p: p["id"])
plays_st = st.lists(st.builds(lambda v, m: {"videoId": v, "playedAt": f"2025-01-01T00:{m:02d}:00Z"},
                              st.sampled_from(VIDEO_IDS), st.integers(0, 59)), max_size=12)
searches_st = st.lists(st.sampled_from(["a", "A", "b", "c ", "d", "e"]), max_size=8)
library_st = st.fixed_dictionaries({"favorites": favorites_st, "playlists": playlists_st,
                                    "history": plays_st, "recent_searches": searches_st})


@st.composite
def device_edits(draw, base: dict, parity: int) -> dict:
    """A device's copy of `base` after random deletions, additions and (own-parity) edits."""
    snapshot = copy.deepcopy(base)
    favorites = [f for f in snapshot["favorites"] if not draw(st.booleans())]
    for f in favorites:
        if int(f["videoId"][1:]) % 2 == parity and draw(st.booleans()):
            f["title"] = f"edited by {parity}"
    known = {f["videoId"] for f in snapshot["favorites"]}  # deleted ones are not re-added
    favorites += [fav(v) for v in draw(st.lists(st.sampled_from(VIDEO_IDS), max_size=3))
                  if v not in known and not known.add(v)]
    snapshot["favorites"] = favorites
    playlists = [p for p in snapshot["playlists"] if not draw(st.booleans())]
    for p in playlists:
        p["songs"] = [s for s in p["songs"] if not draw(st.booleans())]
        ids = {s["videoId"] for s in p["songs"]}
        p["songs"] += [{"videoId": v} for v in draw(st.lists(st.sampled_from(SONG_IDS), max_size=2))
                       if v not in ids and not ids.add(v)]
    if draw(st.booleans()):
        playlists.append({"id": f"pl_new{parity}", "name": "New", "songs": draw(songs_st)})
    snapshot["playlists"] = playlists
    snapshot["history"] = snapshot["history"] + draw(plays_st)
    return snapshot


def visible_membership(state: LibraryState) -> dict:
    return {
        "favorites": sorted(favorite_ids(state)),
        "playlists": sorted((p["id"], tuple(sorted(s["videoId"] for s in p["songs"])))
                            for p in section_items(state, "playlists")),
        "history": section_items(state, "history"),
    }


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(library_st, st.data())
def test_merging_is_idempotent(library, data):
    server = sync(LibraryState(), library)
    device = data.draw(device_edits(device_from(server), 0))
    once = merge_library(server, device, salt=SALT, now=NOW)
    twice = merge_library(once.state, device, salt=SALT, now=NOW + 5)
    assert twice.state == once.state
    assert not twice.changed


@PROPERTY_SETTINGS
@given(library_st, st.data())
def test_the_order_of_device_syncs_does_not_change_the_result(library, data):
    server = sync(LibraryState(), library)
    base = device_from(server)
    first, second = data.draw(device_edits(base, 0)), data.draw(device_edits(base, 1))
    one_way = sync(sync(server, first), second)
    other_way = sync(sync(server, second), first)
    assert visible_membership(one_way) == visible_membership(other_way)
    # Devices edited different favorites, so every field agrees too.
    assert sorted(section_items(one_way, "favorites"), key=lambda f: f["videoId"]) == \
        sorted(section_items(other_way, "favorites"), key=lambda f: f["videoId"])


@PROPERTY_SETTINGS
@given(library_st, st.data())
def test_no_deleted_item_reappears(library, data):
    server = sync(LibraryState(), library)
    stale_devices = [device_from(server) for _ in range(3)]
    deleter = data.draw(device_edits(device_from(server), 0))
    server = sync(server, deleter)
    deleted = set(VIDEO_IDS) - set(favorite_ids(server))
    before = {p["id"]: {s["videoId"] for s in p["songs"]} for p in section_items(server, "playlists")}
    for stale in stale_devices:
        server = sync(server, stale)
        assert not deleted & set(favorite_ids(server))
        after = {p["id"]: {s["videoId"] for s in p["songs"]} for p in section_items(server, "playlists")}
        assert set(after) <= set(before), "a deleted playlist came back"
        for pid, songs in after.items():
            assert songs <= before[pid], "a deleted playlist song came back"


@PROPERTY_SETTINGS
@given(st.lists(plays_st, min_size=1, max_size=4), st.lists(searches_st, min_size=1, max_size=4))
def test_limits_hold(play_batches, search_batches):
    server = LibraryState()
    for plays, searches in zip(play_batches, search_batches):
        server = sync(server, {"since": server.version,
                               "history": plays * 50, "recent_searches": searches * 5})
        history = section_items(server, "history")
        keys = [(h["videoId"], h["playedAt"]) for h in history]
        assert len(history) <= HISTORY_LIMIT and len(keys) == len(set(keys))
        assert [k[1] for k in keys] == sorted((k[1] for k in keys), reverse=True)
        recent = section_items(server, "recent_searches")
        assert len(recent) <= RECENT_SEARCHES_LIMIT
        assert len({s.casefold() for s in recent}) == len(recent)


# -- order of favorites, and which stored rows a merge touches ------------------------------

DAYS = [f"2025-01-{day:02d}T00:00:00Z" for day in range(1, 29)]


def newest_first_ids(state: LibraryState) -> list[str]:
    ordered = sorted(section_items(state, "favorites"), key=lambda f: (f["addedAt"], f["videoId"]),
                     reverse=True)
    return [f["videoId"] for f in ordered]


@pytest.mark.parametrize("added", [3, 200])  # placed one by one / sorted again
def test_favorites_stay_newest_first_whatever_is_added_or_edited(added):
    server = sync(LibraryState(), {"favorites": [fav(f"v{i:03d}", added=DAYS[i % 28])
                                                 for i in range(300)]})
    device = device_from(server)
    device["favorites"][10]["addedAt"] = "2026-01-01T00:00:00Z"  # edited to the newest
    device["favorites"] += [fav(f"n{i:03d}", added=DAYS[(i * 7) % 28]) for i in range(added)]
    del device["favorites"][50]
    server = sync(server, device)
    assert favorite_ids(server) == newest_first_ids(server)
    assert favorite_ids(server)[0] == device["favorites"][10]["videoId"]
    assert len(favorite_ids(server)) == 300 + added - 1


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(st.sampled_from(VIDEO_IDS), st.sampled_from(DAYS[:4])), max_size=8,
                unique_by=lambda pair: pair[0]), st.data())
def test_favorites_are_always_newest_first(pairs, data):
    server = sync(LibraryState(), {"favorites": [fav(v, added=day) for v, day in pairs]})
    device = data.draw(device_edits(device_from(server), 0))
    for item in device["favorites"]:
        if data.draw(st.booleans()):
            item["addedAt"] = data.draw(st.sampled_from(DAYS[:4]))
    server = sync(server, device)
    assert favorite_ids(server) == newest_first_ids(server)


def test_a_merge_touches_only_the_rows_of_what_changed():
    server = sync(LibraryState(), {
        "favorites": [fav(f"v{i}") for i in range(50)],
        "playlists": [{"id": f"pl_{p}", "name": f"P{p}", "songs": [{"videoId": f"s{j}"} for j in range(5)]}
                      for p in range(4)]})
    device = device_from(server)
    device["favorites"] = [f for f in device["favorites"] if f["videoId"] != "v3"]
    device["favorites"][0]["title"] = "Renamed"
    device["favorites"].append(fav("new"))
    device["playlists"][1]["songs"].reverse()
    after = sync(server, device)
    written, gone = changed_favorites(server.favorites, after.favorites)
    assert sorted(written) == sorted(["v3", device["favorites"][0]["videoId"], "new"]) and gone == []
    assert changed_playlists(server.playlists, after.playlists) == (
        [section_items(server, "playlists")[1]["id"]], [])
    # The sweep forgetting a tombstone removes its row and touches nothing else.
    purged, removed = purge_tombstones(after, cutoff=NOW + 1)
    assert removed == 1
    assert changed_favorites(after.favorites, purged.favorites) == ([], ["v3"])
    assert changed_playlists(after.playlists, purged.playlists) == ([], [])
