"""Shared pieces of the subsonic-api tests: accounts with app passwords, token auth, raw /rest calls, tagged tones."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from hashlib import md5
from pathlib import Path

from mediahub import ffmpeg_path

PASSWORD = "correct horse battery"


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


def make_account(url: str, username: str) -> Account:
    bearer = register(url, username)
    return Account(username, PASSWORD, create_app_password(url, bearer, f"{username}'s phone"), bearer)


CODECS = {".mp3": ["-c:a", "libmp3lame", "-b:a", "128k", "-id3v2_version", "3"],
          ".flac": ["-c:a", "flac"], ".ogg": ["-c:a", "libvorbis"]}


def make_audio(path: Path, tags: dict, seconds: float, frequency: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i",
                    f"sine=frequency={frequency}:duration={seconds}", *CODECS[path.suffix],
                    *metadata, str(path)], check=True, timeout=60)
