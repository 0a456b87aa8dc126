"""The shared queue over the party WebSocket: guests adding, switches, co-hosts, votes, boundaries, reactions, the end."""

from __future__ import annotations

import asyncio
import io

import pytest
import segno

from mediahub.testing import guest, login
from tests.support.multipart import multipart
from tests.support.party import HookRecorder, receive, send, wav_bytes


@pytest.fixture
async def recorder():
    return HookRecorder()


@pytest.fixture
async def app(mediahub_app_factory, recorder):
    overrides = {"plugins": {"listen_party": {"start_lead_ms": 100, "message_burst": 40,
                                              "reaction_burst": 2, "reaction_seconds": 30}}}
    return await mediahub_app_factory(plugins=[("party-recorder", recorder)], overrides=overrides)


async def upload(client, who: dict, name: str) -> dict:
    body, content_type = multipart([("audio", name, wav_bytes(0.5)), ("filename", None, name.encode())])
    response = await client.post("/api/upload-track", data=body, headers={**who, **content_type})
    return await response.get_json()


@pytest.fixture
async def party(app):
    """A party: the host (alice), two guests (bob, carol) and two tracks of each."""
    client = app.test_client()
    host = await login(client)
    created = await (await client.post("/api/parties", json={}, headers=host)).get_json()
    bob, carol = await guest(client, "Bob"), await guest(client, "Carol")
    return {"client": client, "code": created["code"], "session": created["sessionId"],
            "host": host, "bob": bob, "carol": carol,
            "host_tracks": [await upload(client, host, f"h{i}.wav") for i in range(2)],
            "bob_tracks": [await upload(client, bob, f"b{i}.wav") for i in range(2)]}


def socket(party, who: str):
    token = party[who]["Authorization"].split()[1]
    return party["client"].websocket(f"/ws/party/{party['code']}?access_token={token}")


async def test_a_guest_queues_a_track_everyone_sees_who_added_it(party):
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        snapshot = await receive(bob, "SNAPSHOT")
        assert snapshot["queue"] == [] and snapshot["permissions"]["guestsAdd"] is True
        # Nothing selected: the first addition becomes the track (paused), the next waits.
        await send(bob, t="QUEUE_ADD", source="upload-track", trackId=party["bob_tracks"][0]["trackId"])
        selected = await receive(host, "TRACK_SELECTED")
        assert selected["addedByName"] == "Bob" and selected["trackId"] == party["bob_tracks"][0]["trackId"]
        await send(bob, t="QUEUE_ADD", trackId=party["bob_tracks"][1]["trackId"])
        queued = await receive(host, "QUEUE_CHANGED")
        [entry] = queued["queue"]
        assert entry["addedBy"] == snapshot["you"] and entry["addedByName"] == "Bob"
        assert entry["trackUrl"] == party["bob_tracks"][1]["trackUrl"] and "media_id" not in entry
        # Another member's upload is no key to it: the server resolves as the one adding.
        await send(bob, t="QUEUE_ADD", trackId=party["host_tracks"][0]["trackId"])
        assert (await receive(bob, "ERROR"))["code"] == "no_such_track"
        # The switch off: refused by the server, whatever the page shows.
        await send(host, t="SET_PERMISSIONS", version=queued["version"], guestsAdd=False)
        assert (await receive(bob, "PERMISSIONS_CHANGED"))["permissions"]["guestsAdd"] is False
        await send(bob, t="QUEUE_ADD", trackId=party["bob_tracks"][0]["trackId"])
        refused = await receive(bob, "ERROR")
        assert refused["code"] == "not_host" and "guests" in refused["message"]


async def test_guests_control_playback_only_when_the_host_allows_it(party):
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        await receive(bob, "SNAPSHOT")
        await send(host, t="HOST_TRACK_SELECTED", version=1, trackId=party["host_tracks"][0]["trackId"])
        version = (await receive(bob, "TRACK_SELECTED"))["version"]
        for command in ({"t": "HOST_PLAY"}, {"t": "HOST_SEEK", "positionSec": 1}, {"t": "SKIP"}):
            await send(bob, **command, version=version)
            assert (await receive(bob, "ERROR"))["code"] == "not_host"
        await send(bob, t="SET_PERMISSIONS", version=version, guestsControl=True)
        assert (await receive(bob, "ERROR"))["code"] == "not_host"  # switches are the host's
        await send(host, t="SET_PERMISSIONS", version=version, guestsControl=True)
        version = (await receive(bob, "PERMISSIONS_CHANGED"))["version"]
        await send(bob, t="HOST_PLAY", version=version)
        assert (await receive(host, "PLAY"))["playing"] is True


async def test_a_co_host_skips_and_manages_but_neither_ends_nor_changes_roles(party):
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        bob_id = (await receive(bob, "SNAPSHOT"))["you"]
        for track in party["host_tracks"]:
            await send(host, t="QUEUE_ADD", trackId=track["trackId"])
        version = (await receive(host, "QUEUE_CHANGED"))["version"]
        await send(host, t="SET_ROLE", version=version, memberId=bob_id, role="cohost")
        roles = await receive(bob, "ROLES_CHANGED")
        assert roles["cohosts"] == [bob_id]
        await send(bob, t="HOST_PLAY", version=roles["version"])
        play = await receive(host, "PLAY")
        await send(bob, t="SKIP", version=play["version"])
        skipped = await receive(host, "TRACK_ADVANCED")
        assert skipped["trackId"] == party["host_tracks"][1]["trackId"] and skipped["playing"]
        assert skipped["serverTimestamp"] > play["serverTimestamp"]  # a lead ahead
        await send(bob, t="SET_ROLE", version=skipped["version"], memberId=bob_id, role="guest")
        assert (await receive(bob, "ERROR"))["code"] == "not_host"
        ended = await party["client"].post(f"/api/parties/{party['code']}/end", headers=party["bob"])
        assert ended.status_code == 403


async def test_the_next_track_starts_on_the_instant_the_last_ends_and_its_upload_is_let_go(party, recorder):
    first, second = party["host_tracks"]
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        await receive(bob, "SNAPSHOT")
        await send(host, t="QUEUE_ADD", trackId=first["trackId"])
        selected = await receive(host, "TRACK_SELECTED")
        assert selected["durationSec"] is None and selected["endsAt"] is None
        # upload-track does not know the length: the host's browser reports it.
        await send(host, t="TRACK_DURATION", entryId=selected["entryId"], durationSec=0.5)
        await send(host, t="QUEUE_ADD", trackId=second["trackId"])
        await receive(host, "QUEUE_CHANGED")
        queued = await receive(host, "QUEUE_CHANGED")
        await send(host, t="HOST_PLAY", version=queued["version"])
        play = await receive(bob, "PLAY")
        assert play["endsAt"] == play["serverTimestamp"] + 500
        # Known ahead (pages preload it): from the queue frame, named by id in the PLAY.
        assert queued["queue"][0]["trackId"] == second["trackId"] and "queue" not in play
        assert play["queueIds"] == [queued["queue"][0]["entryId"]]
        # The room's timer commits the boundary: the next track at 0 exactly from endsAt.
        advanced = await receive(bob, "TRACK_ADVANCED", timeout=5)
        assert advanced["trackId"] == second["trackId"] and advanced["positionSec"] == 0
        assert advanced["serverTimestamp"] == play["endsAt"] and advanced["queue"] == []
        changed = recorder.named("track_changed")[-1]
        assert changed["previous"]["trackId"] == first["trackId"]
        assert changed["current"]["trackId"] == second["trackId"]
        # Its length unknown, the second track plays on until a controller reports it.
        await send(host, t="TRACK_DURATION", entryId=advanced["entryId"], durationSec=0.3)
        await receive(bob, "QUEUE_CHANGED")
        done = await receive(bob, "TRACK_ADVANCED", timeout=5)
        assert done["finished"] and not done["playing"]
        assert recorder.named("track_changed")[-1]["current"] is None


async def test_votes_skip_at_the_share_of_online_listeners(party):
    async with socket(party, "host") as host, socket(party, "bob") as bob, socket(party, "carol") as carol:
        for ws in (host, bob, carol):
            await receive(ws, "SNAPSHOT")
        for track in party["host_tracks"]:
            await send(host, t="QUEUE_ADD", trackId=track["trackId"])
        state = await receive(host, "QUEUE_CHANGED")
        await send(host, t="SET_PERMISSIONS", version=state["version"], skipShare=0.6)
        state = await receive(host, "PERMISSIONS_CHANGED")
        await send(bob, t="VOTE_SKIP", entryId=state["entryId"])
        votes = await receive(carol, "SKIP_VOTES")
        assert votes["skipVotes"] == 1 and votes["trackId"] == party["host_tracks"][0]["trackId"]
        await send(bob, t="VOTE_SKIP", entryId=state["entryId"])  # again: still one vote
        assert (await receive(carol, "SKIP_VOTES"))["skipVotes"] == 1
        await send(carol, t="VOTE_SKIP", entryId=state["entryId"])  # 2 of 3 >= 60 %
        skipped = await receive(host, "TRACK_ADVANCED")
        assert skipped["trackId"] == party["host_tracks"][1]["trackId"] and skipped["skipVotes"] == 0


async def test_reactions_reach_everyone_rate_limited_and_never_free_text(party):
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        snapshot = await receive(bob, "SNAPSHOT")
        assert "🔥" in snapshot["reactions"]
        for _ in range(2):
            await send(bob, t="REACT", emoji="🔥")
            reaction = await receive(host, "REACTION")
            assert reaction == {"t": "REACTION", "emoji": "🔥", "memberId": snapshot["you"], "name": "Bob"}
        await send(bob, t="REACT", emoji="🎉")  # over the burst of 2
        assert (await receive(bob, "ERROR"))["code"] == "too_many_reactions"
        await send(bob, t="REACT", emoji="<script>")
        with pytest.raises(Exception):
            await receive(bob, "REACTION", timeout=2)  # closed (1008): not a reaction


async def test_late_joiners_get_the_queue_and_the_listener_count(party):
    async with socket(party, "host") as host:
        await receive(host, "SNAPSHOT")
        for track in party["host_tracks"]:
            await send(host, t="QUEUE_ADD", trackId=track["trackId"])
        await receive(host, "QUEUE_CHANGED")
        async with socket(party, "bob") as bob:
            snapshot = await receive(bob, "SNAPSHOT")
            assert [e["trackId"] for e in snapshot["queue"]] == [party["host_tracks"][1]["trackId"]]
            assert snapshot["listeners"] == 2
            assert (await receive(bob, "LISTENERS", timeout=5))["count"] == 2


async def test_ending_clears_the_queue_and_fires_session_ended(party, recorder):
    client = party["client"]
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        await receive(bob, "SNAPSHOT")
        for track in party["host_tracks"]:
            await send(host, t="QUEUE_ADD", trackId=track["trackId"])
        await receive(bob, "QUEUE_CHANGED")
        response = await client.post(f"/api/parties/{party['code']}/end", headers=party["host"])
        assert response.status_code == 200
        assert (await receive(bob, "PARTY_ENDED"))["reason"] == "host_ended"
    [ended] = recorder.named("session_ended")
    assert ended["session_id"] == party["session"]
    from mediahub_listen_party.models import Party
    stored = await Party.get(code=party["code"])
    assert '"queue": []' in stored.state and stored.ended_at is not None


async def test_the_invite_qr_code_is_the_join_link(party):
    client = party["client"]
    response = await client.get(f"/party/{party['code']}/qr.svg", headers=party["bob"])
    assert response.status_code == 200 and response.content_type == "image/svg+xml"
    expected = io.BytesIO()
    link = f"http://localhost/party/{party['code']}"  # the test client's host
    segno.make(link, error="m").save(expected, kind="svg", scale=6, border=2, dark="#111",
                                     light="#fff", xmldecl=False)
    assert await response.get_data() == expected.getvalue()
    assert segno.make(link, error="m").designator  # a real QR code, not a picture of text
    page = await (await client.get(f"/party/{party['code']}", headers=party["host"])).get_data(as_text=True)
    assert f'href="{link}"' in page and f"/party/{party['code']}/qr.svg" in page
    assert (await client.get("/party/ZZZZZZ/qr.svg", headers=party["bob"])).status_code == 404
    assert (await client.get(f"/party/{party['code']}/qr.svg")).status_code == 401


async def test_the_party_home_lets_a_visitor_host_as_a_guest(app):
    client = app.test_client()
    page = await (await client.get("/party")).get_data(as_text=True)
    assert 'action="/guest"' in page and 'name="next" value="/party"' in page
    assert "Continue as a guest" in page


async def test_racing_free_commands_both_land(party):
    async with socket(party, "host") as host, socket(party, "bob") as bob:
        await receive(host, "SNAPSHOT")
        await receive(bob, "SNAPSHOT")
        await send(host, t="QUEUE_ADD", trackId=party["host_tracks"][0]["trackId"])
        await receive(host, "TRACK_SELECTED")
        await asyncio.gather(send(host, t="QUEUE_ADD", trackId=party["host_tracks"][1]["trackId"]),
                             send(bob, t="QUEUE_ADD", trackId=party["bob_tracks"][0]["trackId"]))
        await receive(host, "QUEUE_CHANGED")
        last = await receive(host, "QUEUE_CHANGED")
        assert len(last["queue"]) == 2
