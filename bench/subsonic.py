"""Subsonic API speed on a big collection: search3 and getAlbumList2 latency, stream start.

    .venv/bin/python bench/subsonic.py [--tracks 50000] [--requests 200]

Generates the collection (tagged copies of 2 s seeds, as bench/scan.py does), scans it with
`mediahub library scan`, starts `mediahub serve` and drives /rest/ over one keep-alive
connection with token auth (an app password). Prints p50/p95 of search3 (prefix words; the
empty query paged 500 at a time, as Symfonium syncs) and getAlbumList2 (every catalog type),
next to `ping` through the same auth (the API's own floor). Stream start (time to the first
body byte) is measured for the original file against the same bytes served through a signed
/media/ URL, and for a transcode against a bare ffmpeg writing the same encoding to a pipe.
Not a test: numbers vary with the machine and whatever else it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from hashlib import md5
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import free_port, stop_processes, wait_for_port  # noqa: E402
from scan import generate  # noqa: E402

REFERENCE_SECONDS = 30
ALBUM_TYPES = ["newest", "random", "alphabeticalByName", "alphabeticalByArtist", "byYear"]


def make_references(music: Path) -> dict[str, Path]:
    """A 30 s MP3 (streamed as is) and FLAC (transcoded) with their own tags."""
    from mediahub import ffmpeg_path

    folder = music / "Reference" / "Bench"
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for suffix, codec in (("mp3", ["-c:a", "libmp3lame", "-b:a", "192k"]), ("flac", ["-c:a", "flac"])):
        path = folder / f"reference.{suffix}"
        subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i",
                        f"sine=frequency=440:duration={REFERENCE_SECONDS}", "-ac", "2", *codec,
                        "-metadata", f"title=Reference {suffix}", "-metadata", "artist=Reference",
                        "-metadata", "album=Bench", str(path)], check=True)
        made[suffix] = path
    return made


async def put_reference(data_dir: Path, path: Path) -> str:
    """The MP3 through the local-disk backend: its signed /media/ URL (the reference path)."""
    from mediahub.host import load_secret_key
    from mediahub.testing import make_settings
    from mediahub_local_disk.backend import LocalDiskStorage

    settings = make_settings(data_dir)
    storage = LocalDiskStorage.from_settings({"name": "local", "data_dir": str(data_dir),
                                              "secret_key": load_secret_key(settings)})
    await storage.start()

    async def chunks():
        yield path.read_bytes()

    await storage.put("bench/reference.mp3", chunks(), "audio/mpeg", size=path.stat().st_size)
    return await storage.url("bench/reference.mp3", 24 * 3600)


def post(base: str, path: str, body: bytes, headers: dict) -> bytes:
    req = urllib.request.Request(f"{base}{path}", data=body, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as response:
        return response.read()


def app_password(base: str) -> str:
    creds = json.dumps({"username": "bench", "password": "bench password 1"}).encode()
    json_headers = {"Content-Type": "application/json"}
    post(base, "/api/auth/register", creds, json_headers)
    token = json.loads(post(base, "/api/auth/login", creds, json_headers))["access_token"]
    html = post(base, "/account/subsonic", b"name=bench", {
        "Authorization": f"Bearer {token}", "Content-Type": "application/x-www-form-urlencoded"})
    return re.search(rb"data-app-password>([^<]+)<", html).group(1).decode()


class Client:
    """One keep-alive connection; every call authenticates with a fresh salt, as apps do."""

    def __init__(self, port: int, password: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.password = password

    def query(self, **params) -> str:
        salt = os.urandom(6).hex()
        auth = {"u": "bench", "s": salt, "t": md5((self.password + salt).encode()).hexdigest(),
                "v": "1.16.1", "c": "bench", "f": "json"}
        return urllib.parse.urlencode({**auth, **params})

    def timed(self, endpoint: str, **params) -> tuple[float, dict]:
        path = f"/rest/{endpoint}?{self.query(**params)}"
        started = time.perf_counter()
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        answer = json.loads(body)["subsonic-response"]
        assert answer["status"] == "ok", answer
        return elapsed, answer


def first_byte(port: int, path: str) -> float:
    """Seconds from sending the request on a fresh connection to the first body byte."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.status in (200, 206), response.status
    assert response.read(1)
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def ffmpeg_first_byte(source: Path) -> float:
    from mediahub import ffmpeg_path

    started = time.perf_counter()
    process = subprocess.Popen([ffmpeg_path(), "-v", "error", "-i", str(source), "-vn",
                                "-c:a", "libmp3lame", "-b:a", "96k", "-f", "mp3", "pipe:1"],
                               stdout=subprocess.PIPE)
    assert process.stdout.read(1)
    elapsed = time.perf_counter() - started
    process.kill()
    process.wait()
    return elapsed


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000


def report(label: str, samples: list[float], floor: float | None = None) -> None:
    p50, p95 = percentiles(samples)
    ratio = f"  ({p95 / floor:5.1f}x ping's p95)" if floor else ""
    print(f"  {label:34s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms{ratio}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=50000)
    parser.add_argument("--requests", type=int, default=200, help="per measured query kind")
    parser.add_argument("--streams", type=int, default=20, help="stream starts per kind")
    args = parser.parse_args()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="mediahub-bench-subsonic-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        generate(work, args.tracks)
        references = make_references(work / "music")
        print(f"generated {args.tracks} tracks in {time.perf_counter() - started:.0f} s")
        data_dir = work / "data"
        config = work / "mediahub.toml"
        config.write_text(f'[server]\ndata_dir = "{data_dir}"\nlog_level = "warning"\n'
                          f'[plugins.music_library]\nfolders = ["{work / "music"}"]\n'
                          "scan_on_start = false\nwatch = false\nrescan_interval = 0\n")
        cli = str(Path(sys.executable).with_name("mediahub"))
        started = time.perf_counter()
        subprocess.run([cli, "-c", str(config), "library", "scan"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"scanned in {time.perf_counter() - started:.0f} s")
        signed_url = asyncio.run(put_reference(data_dir, references["mp3"]))
        port = free_port()
        processes = [subprocess.Popen([cli, "-c", str(config), "serve", "--host", "127.0.0.1",
                                       "--port", str(port)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)]
        try:
            wait_for_port(port, processes[0])
            base = f"http://127.0.0.1:{port}"
            client = Client(port, app_password(base))
            ping = [client.timed("ping")[0] for _ in range(args.requests)]
            floor = percentiles(ping)[1]
            print(f"\n{args.tracks} tracks, {args.requests} requests per line, one connection:")
            report("ping (auth only)", ping)
            words = [f"Song {rng.randrange(args.tracks)}" for _ in range(args.requests)]
            report("search3 'Song <n>'", [client.timed("search3", query=w)[0] for w in words], floor)
            artists = [f"Artist {rng.randrange(max(1, args.tracks // 100))}" for _ in range(args.requests)]
            report("search3 'Artist <n>'", [client.timed("search3", query=a)[0] for a in artists], floor)
            pages = max(1, args.tracks // 500)
            report("search3 '' 500 songs a page", [
                client.timed("search3", query="", artistCount=0, albumCount=0, songCount=500,
                             songOffset=500 * rng.randrange(pages))[0]
                for _ in range(max(20, args.requests // 4))], floor)
            albums = max(1, args.tracks // 10)
            for kind in ALBUM_TYPES:
                extra = {"fromYear": 1900, "toYear": 2100} if kind == "byYear" else {}
                report(f"getAlbumList2 {kind}", [
                    client.timed("getAlbumList2", type=kind, size=50,
                                 offset=rng.randrange(max(1, albums - 50)), **extra)[0]
                    for _ in range(args.requests)], floor)
            found = client.timed("search3", query="Reference", artistCount=0, albumCount=0)[1]
            ids = {s["suffix"]: s["id"] for s in found["searchResult3"]["song"]}
            print(f"\nstream start (time to first byte, fresh connection, {args.streams} each):")
            original = [first_byte(port, f"/rest/stream?{client.query(id=ids['mp3'])}")
                        for _ in range(args.streams)]
            media = [first_byte(port, signed_url) for _ in range(args.streams)]
            transcoded = [first_byte(port, f"/rest/stream?{client.query(id=ids['flac'], format='mp3', maxBitRate=96)}")
                          for _ in range(args.streams)]
            bare = [ffmpeg_first_byte(references["flac"]) for _ in range(args.streams)]
            o50, o95 = percentiles(original)
            m50, m95 = percentiles(media)
            t50, t95 = percentiles(transcoded)
            b50, b95 = percentiles(bare)
            print(f"  original via /rest/stream   p50 {o50:7.1f} ms   p95 {o95:7.1f} ms")
            print(f"  same bytes via /media/      p50 {m50:7.1f} ms   p95 {m95:7.1f} ms"
                  f"   -> /rest/stream is {o50 / m50:4.1f}x /media/ (p50)")
            print(f"  transcoded mp3 96k          p50 {t50:7.1f} ms   p95 {t95:7.1f} ms")
            print(f"  bare ffmpeg to a pipe       p50 {b50:7.1f} ms   p95 {b95:7.1f} ms"
                  f"   -> /rest/stream is {t50 / b50:4.1f}x bare ffmpeg (p50)")
        finally:
            stop_processes(processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
