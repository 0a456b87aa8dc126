"""`library_service()`: another plugin's view of a user's library, merged like a device's change,
and the queue's current item and position over HTTP."""

from __future__ import annotations

from mediahub import first_result, hookimpl
from mediahub.models import User
from mediahub.testing import login


class ServiceSpy:
    """A third-party plugin asked first; it answers None, so library-sync's service wins."""

    def __init__(self):
        self.asked = 0

    @hookimpl(tryfirst=True, optionalhook=True)
    def library_service(self):
        self.asked += 1


async def send(client, method: str, path: str, device: dict, body=None) -> dict:
    response = await client.open(path, method=method, headers=device, json=body)
    answer = await response.get_json()
    assert response.status_code == 200, answer
    return answer


def ids(items: list[dict]) -> list[str]:
    return sorted(item["videoId"] for item in items)


async def test_the_service_changes_a_library_like_a_device_does(mediahub_app_factory):
    spy = ServiceSpy()
    app = await mediahub_app_factory(plugins=[("service-spy", spy)])
    client = app.test_client()
    phone = await login(client, "listener")
    song_a = {"videoId": "a", "title": "A", "addedAt": "2025-12-28T10:00:00Z"}
    phone_local = (await send(client, "POST", "/api/me/library/sync", phone,
                              {"favorites": [song_a]}))["favorites"]
    async with app.app_context():
        service = await first_result("library_service")
        assert spy.asked == 1 and service is not None
        user = await User.get(username="listener")

        # Favorites: an added track keeps its extra fields' known ones and gets addedAt.
        favorites = await service.add_favorites(user, [{"videoId": "tr-1", "title": "One",
                                                        "album": "not a seed field"}])
        assert ids(favorites) == ["a", "tr-1"]
        track = next(f for f in favorites if f["videoId"] == "tr-1")
        assert track["title"] == "One" and track["addedAt"] and "album" not in track
        # The phone has not synced since: its PUT without "tr-1" does not delete it ...
        phone_local = (await send(client, "PUT", "/api/me/favorites", phone,
                                  {"favorites": phone_local}))["favorites"]
        assert ids(phone_local) == ["a", "tr-1"]
        # ... and a removal through the service is a tombstone the stale phone cannot undo.
        assert ids(await service.remove_favorites(user, ["a"])) == ["tr-1"]
        assert ids((await send(client, "PUT", "/api/me/favorites", phone,
                               {"favorites": phone_local}))["favorites"]) == ["tr-1"]  # holds "a"
        assert ids(await service.favorites(user)) == ["tr-1"]

        # History, newest first.
        await service.add_history(user, {"videoId": "tr-1", "title": "One"})
        await service.add_history(user, {"videoId": "tr-2"})
        assert [h["videoId"] for h in await service.history(user, limit=1)] == ["tr-2"]

        # Playlists: create, rename, add and remove songs, delete.
        made = await service.create_playlist(user, "Road trip", [{"videoId": "tr-1"},
                                                                 {"videoId": "tr-2"}])
        assert made["id"].startswith("playlist_") and made["song_count"] == 2
        changed = await service.update_playlist(user, made["id"], name="Road", add=[{"videoId": "tr-3"}],
                                                remove_indexes=[0])
        assert changed["name"] == "Road" and ids(changed["songs"]) == ["tr-2", "tr-3"]
        assert (await service.playlist(user, made["id"]))["name"] == "Road"
        library = await send(client, "GET", "/api/me/library", phone)
        assert [p["name"] for p in library["playlists"]] == ["Road"]
        assert await service.delete_playlist(user, made["id"]) is True
        assert await service.delete_playlist(user, made["id"]) is False
        assert await service.playlist(user, made["id"]) is None and await service.playlists(user) == []

        # The queue with its current item and position, readable and writable over HTTP too.
        saved = await service.save_queue(user, [{"videoId": "tr-1"}, {"videoId": "tr-2"}],
                                         current=1, position_sec=12.5, device="web player")
        assert saved["current"] == 1 and saved["positionSec"] == 12.5
        assert saved["device"] == "web_player" and saved["updatedAt"]
        library = await send(client, "GET", "/api/me/library", phone)
        assert [q["videoId"] for q in library["queue"]] == ["tr-1", "tr-2"]
        assert library["queue_state"]["current"] == 1 and library["queue_state"]["positionSec"] == 12.5
        await send(client, "PUT", "/api/me/queue", phone, {
            "since": library["version"], "queue": library["queue"],
            "queue_state": {"current": 0, "positionSec": 3.0}})
        queue = await service.queue(user)
        assert queue["current"] == 0 and queue["positionSec"] == 3.0
        # A seed client's new queue (it knows no position) starts at the top.
        await send(client, "GET", "/api/me/library", phone)
        await send(client, "PUT", "/api/me/queue", phone, {"queue": [{"videoId": "x", "position": 0}]})
        queue = await service.queue(user)
        assert [q["videoId"] for q in queue["items"]] == ["x"] and queue["current"] == 0
        assert queue["positionSec"] == 0.0


async def test_no_service_when_library_sync_is_disabled(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"plugins": {"disabled": ["library-sync"]}})
    async with app.app_context():
        assert await first_result("library_service") is None
