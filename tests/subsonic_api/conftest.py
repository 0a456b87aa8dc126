"""One running server per session with a small generated collection, accounts and app passwords."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from mediahub import ffmpeg_path
from tests.support.server_process import ServerProcess
from tests.support.subsonic import Account, Subsonic, make_account, make_audio, register

LYRICS = "[00:00.50]First line\n[00:01.20]Second line"
# (path inside the folder, tags, seconds)
SONGS = [
    ("The Testers/First Light/01 Dawn.mp3",
     dict(title="Dawn", artist="The Testers", album="First Light", track="1/3", date="2019",
          genre="Rock", lyrics=LYRICS), 2.0),
    ("The Testers/First Light/02 Noon.mp3",
     dict(title="Noon", artist="The Testers", album="First Light", track="2/3", date="2019",
          genre="Rock"), 1.0),
    ("The Testers/First Light/03 Dusk.flac",
     dict(title="Dusk", artist="The Testers", album="First Light", track="3/3", date="2019",
          genre="Rock"), 1.0),
    ("Ångström/Wavelengths/01 Blue.ogg",
     dict(title="Blue", artist="Ångström", album="Wavelengths", track="1", date="2022",
          genre="Ambient"), 1.0),
    ("Ångström/Wavelengths/02 Red.mp3",
     dict(title="Red", artist="Ångström", album="Wavelengths", track="2", date="2022",
          genre="Ambient"), 1.0),
]


def make_cover(path: Path) -> None:
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i",
                    "color=c=orange:s=320x320:d=1", "-frames:v", "1", str(path)],
                   check=True, timeout=60)


@pytest.fixture(scope="session")
def collection(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("subsonic-music")
    for n, (rel, tags, seconds) in enumerate(SONGS):
        make_audio(root / rel, tags, seconds, 300 + 50 * n)
    make_cover(root / "The Testers" / "First Light" / "cover.jpg")
    return root


@pytest.fixture(scope="session")
def server(tmp_path_factory, collection):
    """`mediahub serve` on the collection; ready once its start-up scan has indexed every song."""
    base = tmp_path_factory.mktemp("subsonic-server")
    config = base / "mediahub.toml"
    config.write_text(
        "[plugins.music_library]\n"
        f"folders = [{json.dumps(str(collection))}]\n"
        "scan_on_start = true\nwatch = false\nrescan_interval = 0\n", encoding="utf-8")
    with ServerProcess(base / "data", config=config) as process:
        bearer = register(process.url, "scanwatch")
        deadline = time.monotonic() + 120
        while True:
            req = urllib.request.Request(f"{process.url}/api/music/status",
                                         headers={"Authorization": f"Bearer {bearer}"})
            with urllib.request.urlopen(req, timeout=30) as response:
                status = json.load(response)
            if not status["scanning"] and status["tracks"] == len(SONGS):
                break
            assert time.monotonic() < deadline, f"the start-up scan did not finish: {status}"
            time.sleep(0.1)
        yield process


@pytest.fixture(scope="session")
def api(server) -> Subsonic:
    return Subsonic(server.url)


@pytest.fixture(scope="session")
def alice(server) -> Account:
    return make_account(server.url, "alice")


@pytest.fixture(scope="session")
def bob(server) -> Account:
    return make_account(server.url, "bob")
