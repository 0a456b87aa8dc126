"""library-sync as seed 002's web client calls it: no `since`, no `device_id`, one sign-in per device.

Each request body here is what the seed's auth.js sends (the section or the whole local
library) and nothing else. Two devices of one user are two sign-ins (two logins).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from mediahub.testing import login


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def song(video_id: str, added_at: str = "2025-12-28T10:00:00Z") -> dict:
    return {"videoId": video_id, "title": f"Song {video_id}", "artist": "Artist Name",
            "artwork": "https://img.example/1.jpg", "duration": 180, "language": "hi",
            "genres": ["Bollywood"], "addedAt": added_at}


def ids(items: list[dict]) -> list[str]:
    return sorted(item["videoId"] for item in items)


async def send(client, method: str, path: str, device: dict, body=None) -> dict:
    response = await client.open(path, method=method, headers=device, json=body)
    answer = await response.get_json()
    assert response.status_code == 200, answer
    return answer


async def two_devices(client) -> tuple[dict, dict]:
    laptop = await login(client, "seeduser")
    phone = await login(client, "seeduser")
    assert laptop != phone
    return laptop, phone


async def test_favorites_removed_by_a_put_without_since_stay_removed(mediahub_app):
    client = mediahub_app.test_client()
    laptop, phone = await two_devices(client)
    # On login each device runs triggerLibrarySync() with its local library.
    await send(client, "POST", "/api/me/library/sync", laptop, {"favorites": [song("a"), song("b")]})
    phone_local = (await send(client, "POST", "/api/me/library/sync", phone,
                              {"favorites": []}))["favorites"]
    assert ids(phone_local) == ["a", "b"]

    # 1. The laptop removes "a": triggerFavoritesSync() PUTs the list without it.
    answer = await send(client, "PUT", "/api/me/favorites", laptop, {"favorites": [song("b")]})
    assert ids(answer["favorites"]) == ["b"]
    assert ids((await send(client, "GET", "/api/me/library", laptop))["favorites"]) == ["b"]

    # 2. The phone, still holding "a", PUTs and syncs: "a" does not come back.
    answer = await send(client, "PUT", "/api/me/favorites", phone, {"favorites": phone_local})
    assert ids(answer["favorites"]) == ["b"]
    answer = await send(client, "POST", "/api/me/library/sync", phone, {"favorites": phone_local})
    assert ids(answer["favorites"]) == ["b"]
    phone_local = answer["favorites"]

    # 4. The laptop adds "c"; the phone has not synced since and removes "b": "c" stays.
    answer = await send(client, "PUT", "/api/me/favorites", laptop,
                        {"favorites": [song("c", stamp(time.time())), song("b")]})
    assert ids(answer["favorites"]) == ["b", "c"]
    answer = await send(client, "PUT", "/api/me/favorites", phone, {"favorites": []})
    assert ids(answer["favorites"]) == ["c"]
    phone_local = answer["favorites"]

    # 3. The user favorites "a" again on the phone: it is back, on every device.
    again = song("a", stamp(time.time() + 1))
    answer = await send(client, "PUT", "/api/me/favorites", phone, {"favorites": [again, *phone_local]})
    assert ids(answer["favorites"]) == ["a", "c"]
    assert ids((await send(client, "GET", "/api/me/library", laptop))["favorites"]) == ["a", "c"]


async def test_a_stale_device_re_adding_a_deleted_favorite_is_told_by_its_added_at(mediahub_app):
    client = mediahub_app.test_client()
    laptop, phone = await two_devices(client)
    await send(client, "POST", "/api/me/library/sync", laptop, {"favorites": [song("a"), song("b")]})
    phone_local = (await send(client, "POST", "/api/me/library/sync", phone, {}))["favorites"]
    await send(client, "PUT", "/api/me/favorites", laptop, {"favorites": [song("b")]})
    # The phone has not synced since "a" was removed. A copy dated before the removal is
    # stale; one dated after it was added again on the phone.
    answer = await send(client, "PUT", "/api/me/favorites", phone, {"favorites": phone_local})
    assert ids(answer["favorites"]) == ["b"]
    await send(client, "PUT", "/api/me/favorites", laptop, {"favorites": []})
    answer = await send(client, "PUT", "/api/me/favorites", phone,
                        {"favorites": [song("b"), song("a", stamp(time.time() + 1))]})
    assert ids(answer["favorites"]) == ["a"]


async def test_a_device_clock_far_ahead_neither_pins_nor_revives(mediahub_app):
    client = mediahub_app.test_client()
    laptop, phone = await two_devices(client)
    before = time.time()
    answer = await send(client, "PUT", "/api/me/favorites", laptop,
                        {"favorites": [song("future", "2099-01-01T00:00:00Z"), song("b")]})
    stored = {f["videoId"]: f for f in answer["favorites"]}
    added = datetime.fromisoformat(stored["future"]["addedAt"].replace("Z", "+00:00")).timestamp()
    assert before - 1 <= added <= time.time() + 1  # server time, not 2099
    await send(client, "POST", "/api/me/library/sync", phone, {})
    await send(client, "PUT", "/api/me/favorites", laptop, {"favorites": [song("b")]})
    # A stale phone whose clock says 2099 cannot bring "b"'s neighbour back by its date.
    answer = await send(client, "PUT", "/api/me/favorites", phone,
                        {"favorites": [song("b"), song("future", "2099-01-02T00:00:00Z")]})
    assert ids(answer["favorites"]) == ["b"]


def playlist(pid: str, songs: list[dict], name: str = "My Favorites") -> dict:
    return {"id": pid, "name": name, "description": "My top songs", "songs": songs,
            "song_count": len(songs), "cover_urls": [], "is_public": False,
            "created_at": "2025-12-28T09:00:00Z", "updated_at": "2025-12-28T12:00:00Z"}


async def test_playlists_and_their_songs_removed_without_since_stay_removed(mediahub_app):
    client = mediahub_app.test_client()
    laptop, phone = await two_devices(client)
    answer = await send(client, "POST", "/api/me/library/sync", laptop,
                        {"playlists": [playlist("pl_k3j", [song("s1"), song("s2")])]})
    server_id = answer["playlist_id_map"]["pl_k3j"]
    phone_local = (await send(client, "POST", "/api/me/library/sync", phone, {}))["playlists"]
    assert [p["id"] for p in phone_local] == [server_id]

    # A song removed on the laptop stays removed when the stale phone PUTs its playlists.
    answer = await send(client, "PUT", "/api/me/playlists", laptop,
                        {"playlists": [playlist(server_id, [song("s2")])]})
    assert ids(answer["playlists"][0]["songs"]) == ["s2"]
    answer = await send(client, "PUT", "/api/me/playlists", phone, {"playlists": phone_local})
    assert ids(answer["playlists"][0]["songs"]) == ["s2"]
    phone_local = answer["playlists"]

    # A playlist made on the phone meanwhile survives the laptop deleting its only playlist.
    answer = await send(client, "PUT", "/api/me/playlists", phone,
                        {"playlists": [*phone_local, playlist("pl_new", [song("s9")], "Gym")]})
    gym = answer["playlist_id_map"]["pl_new"]
    phone_local = answer["playlists"]
    assert len(phone_local) == 2
    answer = await send(client, "PUT", "/api/me/playlists", laptop, {"playlists": []})
    assert [p["id"] for p in answer["playlists"]] == [gym]
    # ... and the deleted playlist does not come back from the phone's stale copy.
    answer = await send(client, "POST", "/api/me/library/sync", phone, {"playlists": phone_local})
    assert [p["id"] for p in answer["playlists"]] == [gym]

    # The phone takes "s9" out of Gym; the laptop, stale, sends its old copy: it stays out,
    # until the user adds it again on the laptop (dated after the removal).
    await send(client, "PUT", "/api/me/playlists", phone, {"playlists": [playlist(gym, [], "Gym")]})
    answer = await send(client, "PUT", "/api/me/playlists", laptop,
                        {"playlists": [playlist(gym, [song("s9")], "Gym")]})
    assert answer["playlists"][0]["songs"] == []
    answer = await send(client, "PUT", "/api/me/playlists", laptop, {"playlists": [
        playlist(gym, [song("s9", stamp(time.time() + 1))], "Gym")]})
    assert ids(answer["playlists"][0]["songs"]) == ["s9"]
