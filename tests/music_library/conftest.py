"""A small real collection made once per test session with ffmpeg (1 s tones, tags, a cover)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from mediahub import current_host, ffmpeg_path, hookimpl
from mediahub.testing import login, make_settings, running_app

CODECS = {".mp3": ["-c:a", "libmp3lame", "-id3v2_version", "3"], ".flac": ["-c:a", "flac"],
          ".ogg": ["-c:a", "libvorbis"], ".m4a": ["-c:a", "aac"], ".opus": ["-c:a", "libopus"]}

# (folder, path inside it, tags): two folders, the second only bob (and admins) may see.
SONGS = [
    ("main", "Beyoncé/Lemonade/01 Formation.mp3",
     dict(title="Formation", artist="Beyoncé", album="Lemonade", track="1/2", date="2016",
          genre="R&B", lyrics="Okay, ladies")),
    ("main", "Beyoncé/Lemonade/02 Hold Up.flac",
     dict(title="Hold Up", artist="Beyoncé", album="Lemonade", track="2/2", date="2016", genre="R&B")),
    ("main", "Sigur Rós/Takk/02 Hoppípolla.ogg",
     dict(title="Hoppípolla", artist="Sigur Rós; Jónsi", album="Takk...", album_artist="Sigur Rós",
          track="2", date="2005", genre="Post-Rock")),
    ("main", "Sigur Rós/Takk/01 Glósóli.m4a",
     dict(title="Glósóli", artist="Sigur Rós", album="Takk...", album_artist="Sigur Rós",
          track="1", date="2005", genre="Post-Rock")),
    ("main", "Queen/Greatest Hits/01.mp3",
     dict(title="Bohemian Rhapsody", artist="Queen", album="Greatest Hits", track="1", date="1981",
          genre="Rock")),
    ("main", "ABBA/Greatest Hits/01.opus",
     dict(title="Dancing Queen", artist="ABBA", album="Greatest Hits", track="1", date="1992",
          genre="Pop")),
    ("kids", "Songs/01.mp3",
     dict(title="Baby Shark", artist="Pinkfong", album="Kids Songs", track="1", genre="Pop")),
]


def make_audio(path, tags: dict, seconds: float = 1.0, frequency: int = 440, picture=None) -> None:
    """A tagged tone; `picture` (an image file) is embedded as the front cover (MP3 only here)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    art = (["-i", str(picture), "-map", "0:a", "-map", "1:v", "-c:v", "copy",
            "-disposition:v", "attached_pic"] if picture else [])
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i",
                    f"sine=frequency={frequency}:duration={seconds}", *art, *CODECS[path.suffix],
                    *metadata, str(path)], check=True)


def make_image(path, color: str, size: str = "800x600") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", f"color=c={color}:s={size}",
                    "-frames:v", "1", str(path)], check=True)


@pytest.fixture(scope="session")
def collection(tmp_path_factory):
    """{"main": Path, "kids": Path}: the folders, with files read-only to the tests."""
    root = tmp_path_factory.mktemp("collection")
    make_image(root / "main" / "Beyoncé" / "Lemonade" / "cover.jpg", "red")
    make_image(root / "embedded.jpg", "blue", "400x400")
    for n, (folder, rel, tags) in enumerate(SONGS):
        picture = root / "embedded.jpg" if rel.startswith("Queen/") else None
        make_audio(root / folder / rel, tags, frequency=300 + 40 * n, picture=picture)
    return {"main": root / "main", "kids": root / "kids"}


def library_config(collection, **extra) -> dict:
    """`[plugins.music_library]` overrides for the test collection (bob alone sees "kids")."""
    return {"plugins": {"music_library": {
        "folders": [str(collection["main"]),
                    {"path": str(collection["kids"]), "name": "Kids", "users": ["bob"]}],
        "scan_on_start": False, "watch": False, "rescan_interval": 0, **extra}}}


class CatalogSpy:
    """A third-party plugin asked for the catalog first; it answers None, so music-library's wins."""

    def __init__(self):
        self.asked = 0

    @hookimpl(tryfirst=True, optionalhook=True)
    def music_catalog(self):
        self.asked += 1


class IngestSpy:
    """A third-party plugin that sees uploads join the collection (it answers None)."""

    def __init__(self):
        self.seen: list[dict] = []

    @hookimpl(tryfirst=True, optionalhook=True)
    def collection_ingest(self, media, user, info):
        self.seen.append({"user": user.username, **info})


@dataclass
class Music:
    """The shared app: the collection scanned, alice and bob signed in (bearer headers)."""

    app: Any
    client: Any
    alice: dict
    bob: dict
    spy: CatalogSpy
    ingested: IngestSpy


async def scan_now(app):
    from mediahub_music_library.scanner import scan_folders

    async with app.app_context():
        return await scan_folders(current_host().plugin_config("music_library"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def music(collection, tmp_path_factory):
    """One started app on SQLite per test module (an app start costs seconds; Tortoise allows one at a time)."""
    spy, ingested = CatalogSpy(), IngestSpy()
    settings = make_settings(tmp_path_factory.mktemp("music_app") / "data", library_config(collection))
    async with running_app(settings, [("catalog-spy", spy), ("ingest-spy", ingested)]) as app:
        counts = await scan_now(app)
        assert counts.added == 7 and counts.failed == 0, counts.problems
        client = app.test_client()
        yield Music(app, client, await login(client, "alice"), await login(client, "bob"), spy,
                    ingested)
