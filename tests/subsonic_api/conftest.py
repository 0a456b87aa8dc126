"""One running server per session with a small generated collection, accounts and app passwords."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from hashlib import md5
from pathlib import Path

import pytest

from mediahub import ffmpeg_path
from tests.server_process import ServerProcess

PASSWORD = "correct horse battery"
LYRICS = "[00:00.50]First line\n[00:01.20]Second line"
CODECS = {".mp3": ["-c:a", "libmp3lame", "-b:a", "128k", "-id3v2_version", "3"],
          ".flac": ["-c:a", "flac"], ".ogg": ["-c:a", "libvorbis"]}
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


def make_audio(path: Path, tags: dict, seconds: float, frequency: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i",
                    f"sine=frequency={frequency}:duration={seconds}", *CODECS[path.suffix],
                    *metadata, str(path)], check=True, timeout=60)


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


@dataclass
class Account:
    username: str
    password: str  # the account's own password
    app_password: str
    bearer: str


class Subsonic:
    """Raw calls to /rest against the running server (py-sonic is the other client)."""

    def __init__(self, url: str):
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])

    def request(self, endpoint: str, params: dict | list | None = None, *, post: bool = False,
                headers: dict | None = None) -> tuple[int, str, bytes, dict]:
        query = urllib.parse.urlencode(params or {}, doseq=True)
        target = f"{self.url}/rest/{endpoint}"
        if post:
            req = urllib.request.Request(target, data=query.encode(), headers={
                "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
        else:
            req = urllib.request.Request(f"{target}?{query}", headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return (response.status, response.headers.get("Content-Type", ""), response.read(),
                        response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Content-Type", ""), error.read(), error.headers

    def json(self, endpoint: str, params: dict | list | None = None, **kw) -> dict:
        params = [*(params.items() if isinstance(params, dict) else params or []), ("f", "json")]
        status, content_type, body, _ = self.request(endpoint, params, **kw)
        assert status == 200, (status, body[:300])
        assert content_type.startswith("application/json"), content_type
        return json.loads(body)


def token_params(account: Account, salt: str = "c0ffee") -> dict:
    return {"u": account.username, "s": salt, "c": "pytest", "v": "1.16.1",
            "t": md5((account.app_password + salt).encode()).hexdigest()}


def http_json(url: str, path: str, body: dict, bearer: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    req = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.load(response)


def create_app_password(url: str, bearer: str, name: str) -> str:
    """Through the account page, as a browser posts its form (a bearer instead of the cookie)."""
    req = urllib.request.Request(f"{url}/account/subsonic",
                                 data=urllib.parse.urlencode({"name": name}).encode(),
                                 headers={"Authorization": f"Bearer {bearer}",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=30) as response:
        html = response.read().decode()
    return re.search(r"data-app-password>([^<]+)<", html).group(1)


def register(url: str, username: str) -> str:
    try:
        http_json(url, "/api/auth/register", {"username": username, "password": PASSWORD})
    except urllib.error.HTTPError as error:
        assert error.code == 409, error.read()
    return http_json(url, "/api/auth/login", {"username": username, "password": PASSWORD})["access_token"]


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


def make_account(url: str, username: str) -> Account:
    bearer = register(url, username)
    return Account(username, PASSWORD, create_app_password(url, bearer, f"{username}'s phone"), bearer)


@pytest.fixture(scope="session")
def alice(server) -> Account:
    return make_account(server.url, "alice")


@pytest.fixture(scope="session")
def bob(server) -> Account:
    return make_account(server.url, "bob")
