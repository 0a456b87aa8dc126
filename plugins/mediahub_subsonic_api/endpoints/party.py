"""The listeningParty extension: list, read and join a listening party from a Subsonic app.

listen-party answers through its `party_service` hook (this plugin never imports it). A
party's track is a Subsonic song (Child) when it is a collection track the account sees;
`positionSec` is where it is at `serverTime` (Unix ms), so an app that estimates the
server's clock from the round trip plays in sync. docs/subsonic.md has the proposal.
"""

from __future__ import annotations

from quart import request

from mediahub_subsonic_api import shapes
from mediahub_subsonic_api.endpoints import Call, endpoint
from mediahub_subsonic_api.marks import marks_of
from mediahub_subsonic_api.pages import server_address
from mediahub_subsonic_api.wire import SubsonicError

# music-library's track source name: its tracks are the songs this API serves.
COLLECTION = "collection"


@endpoint("getListeningParties")
async def get_listening_parties(call: Call) -> dict:
    parties = await call.parties()
    found = await parties.parties(call.user)
    return {"listeningParties": {"listeningParty": [await party_json(call, p) for p in found]}}


@endpoint("getListeningParty")
async def get_listening_party(call: Call) -> dict:
    parties = await call.parties()
    code = call.params.str("code", required=True)
    return {"listeningParty": await party_json(call, await parties.state(
        call.user, code, ip=request.remote_addr))}


@endpoint("joinListeningParty")
async def join_listening_party(call: Call) -> dict:
    parties = await call.parties()
    code = call.params.str("code", required=True)
    name = call.params.str("name")
    state = await parties.join(call.user, code, ip=request.remote_addr,
                               display_name=name[:64] if name else None)
    return {"listeningParty": await party_json(call, state)}


async def party_json(call: Call, state: dict) -> dict:
    entries = [state["track"], *state["queue"]] if state["track"] else list(state["queue"])
    songs = await songs_of(call, entries)
    track = None
    if state["track"]:
        track = {**songs[0], "partySource": state["track"]["source"]}
        url = state["track"].get("url")
        if state["track"]["source"] == COLLECTION and url:
            # A signed link that needs no credentials: it plays even a song from a folder
            # this account cannot browse, as it does for the party's browser guests.
            track["streamUrl"] = url if "://" in url else f"{server_address()}{url}"
    return {
        "code": state["code"], "name": state["name"],
        "url": f"{server_address()}{state['url']}", "role": state["role"],
        "host": state["hostName"], "memberCount": state["memberCount"],
        "version": state["version"], "playing": state["playing"],
        "positionSec": state["positionSec"], "serverTime": state["serverTime"],
        "startsAt": state["startsAt"], "track": track,
        "entry": songs[1:] if state["track"] else songs,
    }


async def songs_of(call: Call, entries: list[dict]) -> list[dict]:
    """Each party entry as a Child: the collection's song if the account sees it, else its
    title, artist and length (an id `<source>:<trackId>` no other endpoint knows)."""
    wanted = [e["trackId"] for e in entries if e.get("source") == COLLECTION]
    visible = {}
    if wanted:
        try:
            catalog = await call.catalog()
        except SubsonicError:  # music-library disabled: the plain entries still say what plays
            catalog = None
        if catalog is not None:
            marks = await marks_of(call)
            visible = {t.id: shapes.song(t, marks) for t in await catalog.tracks(call.user, wanted)}
    songs = []
    for entry in entries:
        song = visible.get(entry["trackId"]) if entry.get("source") == COLLECTION else None
        if song is None:
            song = {"id": f"{entry['source']}:{entry['trackId']}", "isDir": False,
                    "title": entry["title"], "artist": entry.get("artist"),
                    "album": entry.get("album"),
                    "duration": shapes.seconds(entry.get("durationSec")),
                    "type": "music", "mediaType": "song", "isVideo": False}
        songs.append(song)
    return songs
