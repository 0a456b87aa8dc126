"""A small real collection made once per test session with ffmpeg (1 s tones, tags, a cover)."""

from __future__ import annotations

import subprocess

import pytest

from mediahub import ffmpeg_path

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


def make_audio(path, tags: dict, seconds: float = 1.0, frequency: int = 440) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i",
                    f"sine=frequency={frequency}:duration={seconds}", *CODECS[path.suffix],
                    *metadata, str(path)], check=True)


@pytest.fixture(scope="session")
def collection(tmp_path_factory):
    """{"main": Path, "kids": Path}: the folders, with files read-only to the tests."""
    root = tmp_path_factory.mktemp("collection")
    for n, (folder, rel, tags) in enumerate(SONGS):
        make_audio(root / folder / rel, tags, frequency=300 + 40 * n)
    return {"main": root / "main", "kids": root / "kids"}


def library_config(collection, **extra) -> dict:
    """`[plugins.music_library]` overrides for the test collection (bob alone sees "kids")."""
    return {"plugins": {"music_library": {
        "folders": [str(collection["main"]),
                    {"path": str(collection["kids"]), "name": "Kids", "users": ["bob"]}],
        "scan_on_start": False, "watch": False, **extra}}}
