"""`mediahub serve` as a real process: the scan at start, the watcher (new, changed, moved,
deleted files show up in seconds), and transcodes that stop when their listener leaves and
wait their turn beyond `max_concurrent`."""

from __future__ import annotations

import http.client
import json
import os
import select
import shutil
import subprocess
import time
import urllib.request

import pytest

from mediahub import ffmpeg_path
from tests.support.music_library import make_audio
from tests.support.server_process import ServerProcess

DEADLINE = 20.0  # seconds; a watcher that needs longer is broken, not slow


class Api:
    def __init__(self, server: ServerProcess):
        self.server = server
        self.headers: dict = {}

    def call(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(f"{self.server.url}{path}", method=method,
                                         data=json.dumps(body).encode() if body else None,
                                         headers={"Content-Type": "application/json", **self.headers})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def sign_in(self, username: str) -> None:
        credentials = {"username": username, "password": "correct horse battery"}
        self.call("POST", "/api/auth/register", credentials)
        token = self.call("POST", "/api/auth/login", credentials)["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def titles(self, query: str = "") -> dict[str, dict]:
        found = self.call("GET", f"/api/music/search?q={query}&songCount=100")["tracks"]
        return {track["title"]: track for track in found}


def wait_for(check, what: str):
    """Poll `check()` until it is truthy; fail naming `what` after DEADLINE."""
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE:
        value = check()
        if value:
            return value, time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"not within {DEADLINE} s: {what}")


DECODE_WAIT = 3.0  # [server] decode_wait: how long a listener waits for a transcode place


@pytest.fixture(scope="module")
def served(tmp_path_factory, collection):
    root = tmp_path_factory.mktemp("served")
    music = root / "music"
    shutil.copytree(collection["main"] / "Sigur Rós", music / "Sigur Rós")
    # Long enough that a transcode is still running when its listener leaves.
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=220:duration=300",
                    "-ac", "1", "-c:a", "flac", "-metadata", "title=Long Tone", str(music / "long.flac")],
                   check=True)
    config = root / "mediahub.toml"
    config.write_text(f'[plugins.music_library]\nfolders = ["{music}"]\nrescan_interval = 0\n'
                      '[plugins.music_library.transcode]\nmax_concurrent = 1\n'
                      f'[server]\ndecode_wait = {DECODE_WAIT}\n')
    with ServerProcess(root / "data", config=config) as server:
        api = Api(server)
        api.sign_in("alice")
        yield api, music


def test_the_server_scans_at_start_and_the_watcher_follows_the_folder(served, collection):
    api, music = served
    wait_for(lambda: api.call("GET", "/api/music/status")["lastScan"], "the scan at start")
    assert sorted(api.titles()) == ["Glósóli", "Hoppípolla", "Long Tone"]
    status = api.call("GET", "/api/music/status")
    assert status["tracks"] == 3 and status["watching"] is True and status["scanning"] is False
    assert status["lastScan"]["reason"] == "start" and status["lastScan"]["added"] == 3

    # New: a file copied in (written elsewhere first, then moved in, as a copy tool does).
    incoming = music.parent / "incoming.mp3"
    make_audio(incoming, {"title": "Sæglópur", "artist": "Sigur Rós", "album": "Takk..."})
    shutil.move(incoming, music / "Sigur Rós" / "Takk" / "03 Sæglópur.mp3")
    added, seconds = wait_for(lambda: api.titles("saeg").get("Sæglópur"), "a new file")
    print(f"new file indexed after {seconds:.2f} s")
    # Moved and renamed: the same track id under the new path.
    os.rename(music / "Sigur Rós" / "Takk" / "03 Sæglópur.mp3", music / "saeglopur.mp3")
    moved, _ = wait_for(lambda: (api.titles("saeg").get("Sæglópur") or {}).get("path") == "saeglopur.mp3"
                        and api.titles("saeg")["Sæglópur"], "a moved file")
    assert moved["id"] == added["id"]
    # Changed: new tags are read again.
    make_audio(music.parent / "retagged.mp3", {"title": "Sæglópur (live)", "artist": "Sigur Rós"})
    shutil.move(music.parent / "retagged.mp3", music / "saeglopur.mp3")
    changed, _ = wait_for(lambda: api.titles("saeg").get("Sæglópur (live)"), "a changed file")
    assert changed["id"] == added["id"]
    # Deleted: it leaves the collection.
    (music / "saeglopur.mp3").unlink()
    wait_for(lambda: not api.titles("saeg"), "a deleted file")
    assert api.call("GET", "/api/music/status")["tracks"] == 3


def ffmpeg_processes_reading(path) -> int:
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                args = handle.read().split(b"\0")
        except OSError:
            continue
        if args and b"ffmpeg" in os.path.basename(args[0]) and str(path).encode() in args:
            count += 1
    return count


def open_stream(api: Api, path: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection("127.0.0.1", api.server.port, timeout=10)
    connection.request("GET", path, headers=api.headers)
    return connection, connection.getresponse()


def test_transcodes_stop_with_their_listener_and_wait_their_turn(served):
    api, music = served
    wait_for(lambda: api.titles("long"), "the long track")
    track = api.titles("long")["Long Tone"]
    path = f"{track['streamUrl']}?format=mp3&maxBitRate=320"
    long_file = music / "long.flac"

    first, first_response = open_stream(api, path)
    assert first_response.status == 200 and first_response.read(4096)
    assert api.call("GET", "/api/music/status")["transcoding"] == 1
    assert ffmpeg_processes_reading(long_file) == 1

    # max_concurrent = 1: a second listener gets no answer until the first one leaves
    # (within decode_wait), then its 200 and audio.
    second = http.client.HTTPConnection("127.0.0.1", api.server.port, timeout=10)
    second.request("GET", path, headers=api.headers)
    readable, _, _ = select.select([second.sock], [], [], 1.0)  # a bounded look for bytes
    assert not readable and ffmpeg_processes_reading(long_file) == 1
    first_response.close()
    first.close()
    second_response = second.getresponse()
    assert second_response.status == 200 and second_response.read(4096)  # its turn came
    wait_for(lambda: ffmpeg_processes_reading(long_file) == 1, "the first ffmpeg killed")

    # A third while the second plays: after decode_wait, 503 busy with Retry-After, as a
    # render's decode is refused; no ffmpeg started for it.
    started = time.monotonic()
    third, third_response = open_stream(api, path)
    waited = time.monotonic() - started
    body = json.loads(third_response.read())
    assert third_response.status == 503 and body["error"]["code"] == "busy", body
    assert int(third_response.getheader("Retry-After")) >= 1
    assert DECODE_WAIT - 0.5 <= waited < DECODE_WAIT + 5, waited
    assert ffmpeg_processes_reading(long_file) == 1
    third.close()
    second_response.close()
    second.close()
    wait_for(lambda: ffmpeg_processes_reading(long_file) == 0, "the second ffmpeg killed")
    wait_for(lambda: api.call("GET", "/api/music/status")["transcoding"] == 0, "no transcode left")
