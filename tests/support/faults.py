"""Helpers of the fault tests: a hand-written slow upload, the ledger and bucket seen from
outside, a private redis-server, and waiting without timing anything."""

from __future__ import annotations

import http.client
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from mediahub.media import ffmpeg_path
from tests.support.multipart import end, form_headers, part_head
from tests.support.ports import free_port
from tests.support.server_process import ServerProcess

MiB = 1024 * 1024
CREDENTIALS = {"username": "alice", "password": "correct horse battery"}
WAIT_LIMIT = 60.0  # seconds a condition may take before the test gives up (never a speed check)


# -- waiting, and the HTTP clients ---------------------------------------------------------


def wait_for(condition, what: str, limit: float = WAIT_LIMIT):
    """Poll `condition()` until it returns something truthy; fail naming `what` otherwise."""
    deadline = time.monotonic() + limit
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def sign_in(base_url: str) -> dict:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.post("/api/auth/register", json=CREDENTIALS)
        response = client.post("/api/auth/login", json=CREDENTIALS)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def async_sign_in(client: httpx.AsyncClient) -> str:
    await client.post("/api/auth/register", json=CREDENTIALS)
    response = await client.post("/api/auth/login", json=CREDENTIALS)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def make_tone(path: Path, seconds: float, *, bitrate: str = "64k", sample_rate: int = 44100) -> bytes:
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=330:duration={seconds}:sample_rate={sample_rate}", "-ac", "1",
                    "-c:a", "libmp3lame", "-b:a", bitrate, str(path)], check=True)
    return path.read_bytes()


class SlowUpload:
    """A multipart/form-data POST written by hand to a socket, so the test decides when
    each byte goes out (a client on a slow link, or one the server is killed under)."""

    def __init__(self, base_url: str, path: str, headers: dict, *, field: str, file_size: int):
        url = urlsplit(base_url)
        self.head = part_head(field, "big.mp3", content_type="audio/mpeg")
        self.tail = b"\r\n" + end()
        self.file_size = file_size
        self.sent = 0
        lines = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}",
                 f"Content-Type: {form_headers()['Content-Type']}",
                 f"Content-Length: {len(self.head) + file_size + len(self.tail)}",
                 *(f"{name}: {value}" for name, value in headers.items()), "", ""]
        self.sock = socket.create_connection((url.hostname, url.port), timeout=WAIT_LIMIT)
        self.sock.sendall("\r\n".join(lines).encode() + self.head)

    def send(self, data: bytes) -> None:
        """Part of the file; the server may already have answered (then this is a no-op)."""
        try:
            self.sock.sendall(data)
        except OSError:
            pass
        self.sent += len(data)

    def finish(self) -> tuple[int, dict]:
        """The rest of the file (zeros) and the closing boundary, then the server's answer."""
        remaining = self.file_size - self.sent
        while remaining > 0:
            self.send(bytes(min(remaining, MiB)))
            remaining = self.file_size - self.sent
        self.send(self.tail)
        response = http.client.HTTPResponse(self.sock)
        response.begin()
        body = response.read()
        self.sock.close()
        return response.status, httpx.Response(200, content=body).json()

    def close(self) -> None:
        self.sock.close()


def upload_track(base_url: str, headers: dict, data: bytes) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=WAIT_LIMIT) as client:
        return client.post("/api/upload-track", headers=headers,
                           files={"audio": ("tone.mp3", data, "audio/mpeg")})


# -- the ledger and the storage, seen from outside --------------------------------------


def ledger_rows(data_dir: Path) -> list[tuple[str, str, str]]:
    """(backend, key, state) of every media ledger row, read straight from the SQLite file."""
    connection = sqlite3.connect(f"file:{data_dir / 'mediahub.sqlite3'}?mode=ro", uri=True)
    try:
        return connection.execute("SELECT backend, key, state FROM media_objects").fetchall()
    finally:
        connection.close()


def files_under(root: Path) -> list[str]:
    """Every file under root (hidden temp files included), as keys relative to root."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def run_cleanup(server: ServerProcess, **env: str) -> str:
    """`mediahub cleanup` as an operator runs it, next to the running server."""
    command = [sys.executable, "-m", "mediahub.cli"]
    if "-c" in server.args:
        command += ["-c", server.args[server.args.index("-c") + 1]]
    result = subprocess.run(command + ["cleanup"], env={**server.env, **env}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def s3_config(path: Path, s3_settings: dict, **overrides) -> Path:
    """A config file whose default storage is the test bucket (endpoint overridable)."""
    table = {**s3_settings, **overrides}
    lines = ["[storage]", 'default = "s3"', "", "[storage.s3]"]
    for name, value in table.items():
        if isinstance(value, bool):
            lines.append(f"{name} = {'true' if value else 'false'}")
        elif isinstance(value, (int, float)):
            lines.append(f"{name} = {value}")
        else:
            lines.append(f'{name} = "{value}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def s3_client(s3_settings: dict):
    """A boto3 client straight to SeaweedFS (never through the proxy), to inspect the bucket."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=s3_settings["endpoint_url"], region_name="us-east-1",
                        aws_access_key_id=s3_settings["access_key_id"],
                        aws_secret_access_key=s3_settings["secret_access_key"],
                        config=Config(s3={"addressing_style": "path"}))


def bucket_keys(client, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def unfinished_uploads(client, bucket: str) -> list[dict]:
    """Multipart uploads begun and neither completed nor aborted, with their part counts."""
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return [{"key": upload["Key"], "parts": len(client.list_parts(
        Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts", []))}
        for upload in uploads]


# -- the party and the transcode, seen from their clients ---------------------------------


def state_of(message: dict) -> dict:
    """The party state every party message carries (whatever its type)."""
    return {key: message[key] for key in ("version", "serverTimestamp", "positionSec", "playing",
                                          "trackId", "hostId")}


def ws_url(server: ServerProcess, code: str, token: str) -> str:
    return server.url.replace("http://", "ws://") + f"/ws/party/{code}?access_token={token}"


def transcode_status(client: httpx.Client, headers: dict, track_id: str, done) -> dict | None:
    response = client.get(f"/tracks/upload/status/{track_id}", headers=headers)
    assert response.status_code == 200, response.text
    status = response.json()
    return status if done(status) else None


# -- a private redis-server -----------------------------------------------------------------


REDIS_SERVER = "/usr/bin/redis-server"


class PrivateRedis:
    """A redis-server of our own on a free port (no persistence), that the test may restart."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no"], stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.answers(), "redis-server to answer PING")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def subscribers(self, channel: str) -> int:
        """PUBSUB NUMSUB: how many connections (app instances) listen to the channel."""
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            return dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
