"""The listeningParty extension: a Subsonic app lists, joins and follows a real party playing a
collection track (py-sonic's own request helpers), in JSON checked against the extension's
schema and in well-formed XML; positionSec at serverTime lets it play in sync."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import libsonic
import pytest

from tests.support.websocket_client import WebSocketClient
from tests.support.server_process import ServerProcess
from tests.support.subsonic import make_account, make_audio, token_params
from tests.subsonic_api.spec import assert_valid

NS = "{http://subsonic.org/restapi}"
# A song long enough to be heard playing across several calls, and a short one to queue.
SONGS = [("Long Players/Side A/01 Slow.mp3",
          dict(title="Slow", artist="Long Players", album="Side A", track="1"), 40.0),
         ("Long Players/Side A/02 Quick.mp3",
          dict(title="Quick", artist="Long Players", album="Side A", track="2"), 1.0)]


@pytest.fixture(scope="module")
def party_server(tmp_path_factory):
    music = tmp_path_factory.mktemp("party-music")
    for n, (rel, tags, seconds) in enumerate(SONGS):
        make_audio(music / rel, tags, seconds, 400 + 100 * n)
    base = tmp_path_factory.mktemp("party-server")
    config = base / "mediahub.toml"
    config.write_text("[plugins.music_library]\n"
                      f"folders = [{json.dumps(str(music))}]\n"
                      "scan_on_start = true\nwatch = false\nrescan_interval = 0\n",
                      encoding="utf-8")
    with ServerProcess(base / "data", config=config) as process:
        yield process


@pytest.fixture(scope="module")
def host(party_server):
    return make_account(party_server.url, "hostess")


@pytest.fixture(scope="module")
def listener(party_server):
    return make_account(party_server.url, "phoneuser")


def connect(server, account) -> libsonic.Connection:
    return libsonic.Connection("http://127.0.0.1", account.username, account.app_password,
                               port=int(server.url.rsplit(":", 1)[1]), appName="pytest")


def call(sonic: libsonic.Connection, endpoint: str, **query) -> dict:
    """An extension endpoint through py-sonic's own request and parsing helpers (JSON)."""
    return sonic._doInfoReq(sonic._getRequest(f"{endpoint}.view", query))


def valid(endpoint: str, answer: dict) -> dict:
    assert_valid(endpoint, {"subsonic-response": answer})
    return answer


def xml(server, account, endpoint: str, **params) -> ET.Element:
    query = urllib.parse.urlencode({**token_params(account), **params})
    with urllib.request.urlopen(f"{server.url}/rest/{endpoint}?{query}", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/xml")
        return ET.fromstring(response.read())


def create_party(server, account) -> str:
    req = urllib.request.Request(f"{server.url}/api/parties", data=b'{"name": "Kitchen"}',
                                 headers={"Authorization": f"Bearer {account.bearer}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.load(response)["code"]


def wait_for_scan(sonic) -> dict:
    deadline = time.monotonic() + 60
    while True:
        found = sonic.search3("", artistCount=0, albumCount=0, songCount=10)["searchResult3"]
        if len(found.get("song", [])) == len(SONGS):
            return {s["title"]: s for s in found["song"]}
        assert time.monotonic() < deadline, "the start-up scan did not finish"
        time.sleep(0.2)


def predicted(party: dict, server_time: int) -> float:
    """Where the extension says the track is at `server_time`, from one earlier answer."""
    begins = max(party["serverTime"], party.get("startsAt") or 0)
    return party["positionSec"] + max(0, server_time - begins) / 1000.0


def test_a_subsonic_app_joins_and_follows_a_party_playing_a_collection_track(
        party_server, host, listener):
    host_app, phone = connect(party_server, host), connect(party_server, listener)
    songs = wait_for_scan(host_app)
    slow, quick = songs["Slow"], songs["Quick"]
    code = create_party(party_server, host)

    extensions = call(host_app, "getOpenSubsonicExtensions")["openSubsonicExtensions"]
    assert {"name": "listeningParty", "versions": [1]} in extensions

    # Someone who has not joined cannot read the party; an unknown code is not found.
    refused = call(phone, "getListeningParty", code=code)
    assert (refused["status"], refused["error"]["code"]) == ("failed", 50)
    assert call(phone, "getListeningParty", code="ZZZZZZ")["error"]["code"] == 70
    assert call(phone, "joinListeningParty")["error"]["code"] == 10
    assert valid("getListeningParties", call(phone, "getListeningParties"))[
        "listeningParties"] == {"listeningParty": []}

    async def play():
        token = host.bearer
        socket = await WebSocketClient.connect(
            f"ws://127.0.0.1:{party_server.port}/ws/party/{code}?access_token={token}")
        try:
            snapshot = await socket.receive_json("SNAPSHOT")
            await socket.send_json({"t": "HOST_TRACK_SELECTED", "version": snapshot["version"],
                                    "source": "collection", "trackId": slow["id"]})
            selected = await socket.receive_json("TRACK_SELECTED")
            await socket.send_json({"t": "QUEUE_ADD", "source": "collection",
                                    "trackId": quick["id"]})
            queued = await socket.receive_json("QUEUE_CHANGED")
            await socket.send_json({"t": "HOST_PLAY", "version": queued["version"],
                                    "positionSec": 5.0})
            return selected, await socket.receive_json("PLAY")
        finally:
            await socket.close()

    _, started = asyncio.run(play())

    joined = valid("joinListeningParty", call(phone, "joinListeningParty", code=code.lower()))
    party = joined["listeningParty"]
    assert (party["code"], party["name"], party["role"], party["host"], party["memberCount"]) == (
        code, "Kitchen", "guest", "hostess", 2)
    assert party["playing"] is True and party["version"] == started["version"]
    assert party["url"] == f"{party_server.url}/party/{code}"
    # The track is the collection's song, playable by `stream?id=` or the signed streamUrl.
    track = party["track"]
    assert (track["id"], track["title"], track["albumId"], track["duration"]) == (
        slow["id"], "Slow", slow["albumId"], 40)
    assert track["partySource"] == "collection"
    with urllib.request.urlopen(track["streamUrl"], timeout=30) as audio:  # no credentials
        assert audio.status == 200 and audio.headers["Content-Type"] == "audio/mpeg"
        assert len(audio.read()) == slow["size"]
    assert [e["title"] for e in party["entry"]] == ["Quick"]
    assert party["entry"][0]["id"] == quick["id"]

    # The position advances with the server clock: one answer predicts the next.
    first = valid("getListeningParty", call(phone, "getListeningParty", code=code))["listeningParty"]
    time.sleep(1.0)
    second = valid("getListeningParty", call(phone, "getListeningParty", code=code))["listeningParty"]
    assert second["serverTime"] - first["serverTime"] >= 1000
    assert second["positionSec"] > first["positionSec"] >= 5.0
    assert abs(predicted(first, second["serverTime"]) - second["positionSec"]) < 0.01
    # A client's own clock: the midpoint of a round trip estimates the server's time.
    sent = time.time() * 1000
    third = call(phone, "getListeningParty", code=code)["listeningParty"]
    received = time.time() * 1000
    assert abs(third["serverTime"] - (sent + received) / 2) < (received - sent) / 2 + 50

    listed = valid("getListeningParties", call(phone, "getListeningParties"))
    assert [p["code"] for p in listed["listeningParties"]["listeningParty"]] == [code]
    hosted = call(host_app, "getListeningParties")["listeningParties"]["listeningParty"]
    assert [(p["code"], p["role"]) for p in hosted] == [(code, "host")]

    # DSub-style XML: the same party, its track and queue as elements.
    root = xml(party_server, listener, "getListeningParty", code=code)
    assert root.attrib["status"] == "ok"
    element = root.find(f"{NS}listeningParty")
    assert element.attrib["code"] == code and element.attrib["playing"] == "true"
    assert float(element.attrib["positionSec"]) >= 5.0 and int(element.attrib["serverTime"]) > 0
    assert element.find(f"{NS}track").attrib["id"] == slow["id"]
    assert [e.attrib["title"] for e in element.findall(f"{NS}entry")] == ["Quick"]
    failed = xml(party_server, listener, "getListeningParty", code="ZZZZZZ")
    assert failed.attrib["status"] == "failed" and failed[0].attrib["code"] == "70"


def test_a_party_without_a_track_and_hostile_codes(party_server, host, listener):
    phone = connect(party_server, listener)
    code = create_party(party_server, host)
    party = valid("joinListeningParty", call(phone, "joinListeningParty", code=code,
                                             name="Kitchen phone"))["listeningParty"]
    assert party["playing"] is False and party["positionSec"] == 0
    assert "track" not in party and party["entry"] == []
    for bad in ("\u202e", "x" * 40, "' OR 1=1 --", "../.."):
        answer = call(phone, "getListeningParty", code=bad)
        assert answer["status"] == "failed" and answer["error"]["code"] in (0, 70), answer
