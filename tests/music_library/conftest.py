"""A small real collection made once per test session with ffmpeg (1 s tones, tags, a cover)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from mediahub import hookimpl
from mediahub.testing import login, make_settings, running_app
from tests.support.music_library import SONGS, library_config, make_audio, make_image, make_song, scan_now


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


@pytest.fixture
def library(tmp_path):
    """For the CLI tests: a folder of their own (two songs, a broken file, an empty one, a symlink
    loop), its config file and where its database will be."""
    music = tmp_path / "music"
    make_song(music / "Sigur Rós" / "Takk" / "01.mp3", "Glósóli", "Sigur Rós", "Takk", 1)
    make_song(music / "Sigur Rós" / "Takk" / "02.mp3", "Hoppípolla", "Sigur Rós", "Takk", 2)
    (music / "broken.flac").write_bytes(b"fLaC not really")
    (music / "empty.mp3").write_bytes(b"")
    (music / "cover.txt").write_text("not audio, not looked at")
    (music / "loop").symlink_to(music)
    config = tmp_path / "mediahub.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path / "data"}"\n'
                      f'[plugins.music_library]\nfolders = ["{music}"]\n')
    return music, config, tmp_path / "data" / "mediahub.sqlite3"
