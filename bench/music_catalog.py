"""Search and browse speed of the collection on a generated catalogue (rows only, no files).

    python bench/music_catalog.py --tracks 50000 [--database postgres://...]

Fills the tables with `--tracks` tracks (10 per album, 2 albums per artist, 20 genres), then
times through `music_catalog()`, as the JSON API and the Subsonic API call it: search as you
type (prefixes of 1-3 words; target p95 <= 30 ms), an album page (album + its tracks; target
p95 <= 50 ms) and an album grid page (50 albums, newest and by name; target p95 <= 100 ms),
and the empty search's 500-song page a Subsonic app syncing everything asks for (no target).
Each line has the CPU this process spent per call besides the wall times.
The reference, measured in the same run, is the bare full-text query of the same prefixes
(no visibility, no loading): the ratio says what the catalog's work adds to it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line, scratch_database, verdict  # noqa: E402

WORDS = ["sigur", "ros", "beyonce", "night", "blue", "river", "glass", "summer", "electric",
         "golden", "shadow", "dream", "fire", "ocean", "silver", "echo", "velvet", "storm",
         "paper", "neon", "wild", "quiet", "broken", "crystal", "midnight", "honey", "iron"]
GENRES = ["Rock", "Pop", "Jazz", "Post-Rock", "Ambient", "Hip-Hop", "R&B", "Folk", "Metal",
          "Classical", "Blues", "Soul", "Reggae", "Punk", "House", "Techno", "Country",
          "Latin", "Funk", "Disco"]


def name(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS).title() for _ in range(words))


async def fill(tracks: int, folder_id: int) -> tuple[list[str], list[str]]:
    """Insert the catalogue in batches; returns (album ids, artist ids)."""
    from tortoise.transactions import in_transaction

    from mediahub_music_library.models import (MusicAlbum, MusicArtist, MusicTrack,
                                               MusicTrackArtist, MusicTrackGenre)
    from mediahub_music_library.names import fold, sort_name

    rng = random.Random(7)
    albums_count = max(tracks // 10, 1)
    artists = [MusicArtist(id=f"ar-{n:016x}", key=f"artist {n}", name=f"{name(rng, 2)} {n}",
                           sort_name="", search_text="") for n in range(max(albums_count // 2, 1))]
    for artist in artists:
        artist.sort_name, artist.search_text = sort_name(artist.name), fold(artist.name)
    albums = []
    for n in range(albums_count):
        artist = artists[n // 2]
        title = f"{name(rng, 2)} {n}"
        albums.append(MusicAlbum(id=f"al-{n:016x}", key=f"album {n}", name=title, sort_name=sort_name(title),
                                 search_text=fold(f"{title} {artist.name}"), artist_id=artist.id,
                                 artist_name=artist.name, year=1960 + n % 60, genres=[GENRES[n % 20]]))
    async with in_transaction():
        await MusicArtist.bulk_create(artists, batch_size=1000)
        await MusicAlbum.bulk_create(albums, batch_size=1000)
    for start in range(0, tracks, 5000):
        rows, links, genres = [], [], []
        for n in range(start, min(start + 5000, tracks)):
            album = albums[n // 10]
            title = f"{name(rng, 3)} {n}"
            track_id = f"tr-{n:016x}"
            rows.append(MusicTrack(
                id=track_id, folder_id=folder_id, rel_path=f"{n}.mp3", path_key=f"{n:040x}",
                fingerprint=f"{n:x}", title=title, sort_title=sort_name(title),
                search_text=fold(f"{title} {album.artist_name} {album.name}"), album_id=album.id,
                artist_id=album.artist_id, artist_name=album.artist_name,
                artists=[[album.artist_id, album.artist_name]], track_no=n % 10 + 1,
                year=album.year, genres=album.genres, duration=180.0, bitrate=320, suffix="mp3",
                content_type="audio/mpeg", size=7_000_000))
            links.append(MusicTrackArtist(track_id=track_id, artist_id=album.artist_id, position=0))
            genres.append(MusicTrackGenre(track_id=track_id, genre=album.genres[0]))
        async with in_transaction():
            await MusicTrack.bulk_create(rows, batch_size=1000)
            await MusicTrackArtist.bulk_create(links, batch_size=1000)
            await MusicTrackGenre.bulk_create(genres, batch_size=1000)
    return [album.id for album in albums], [artist.id for artist in artists]


class Times(list):
    """Wall milliseconds per call, and the CPU milliseconds this process spent on each
    (every thread: the event loop and the database driver's), which moves far less with the
    machine's load than the wall time does."""

    def __init__(self):
        super().__init__()
        self.cpu: list[float] = []


async def timed(runs: int, make_call) -> Times:
    times = Times()
    for n in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        await make_call(n)
        times.cpu.append((time.process_time() - cpu) * 1000)
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def report(label: str, values: Times, target: float | None,
           reference: list[float] | None = None) -> bool:
    """Print one line; True when the target (if any) is met."""
    p50, p95 = statistics.median(values), percentile(values, 0.95)
    line = (f"{label:34s} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms"
            f"  cpu {statistics.fmean(values.cpu):6.2f} ms/call")
    if target is not None:
        line += f"  (target p95 <= {target:.0f} ms: {'ok' if p95 <= target else 'MISSED'})"
    if reference:
        line += f"  {p95 / max(percentile(reference, 0.95), 0.001):.1f}x the bare query"
    print(line, flush=True)
    return target is None or p95 <= target


async def bench(tracks: int, database: str | None, runs: int) -> None:
    from mediahub import current_host
    from mediahub.models import User
    from mediahub.testing import make_settings, running_app
    from mediahub_music_library.catalog import Catalog
    from mediahub_music_library.queries import fetch, matches, tidy_tables
    from mediahub_music_library.visibility import configured_folders

    with tempfile.TemporaryDirectory(prefix="mediahub-bench-catalog-") as tmp:
        music = Path(tmp) / "music"
        music.mkdir()
        overrides = {"plugins": {"music_library": {"folders": [str(music)], "watch": False,
                                                   "scan_on_start": False, "rescan_interval": 0}}}
        if database:
            overrides["database"] = {"url": database}
        async with running_app(make_settings(Path(tmp) / "data", overrides)) as app:
            async with app.app_context():
                assert current_host().plugin_config("music_library").folders
                (folder, _), = await configured_folders()
                started = time.perf_counter()
                album_ids, _ = await fill(tracks, folder.id)
                await tidy_tables(tracks)  # what a scan that added them does at its end
                print(f"{tracks} tracks, {len(album_ids)} albums inserted in "
                      f"{time.perf_counter() - started:.1f} s", flush=True)
                user = await User.create(username="bench", password_hash="x")
                catalog = Catalog()
                rng = random.Random(1)
                queries = []
                for _ in range(runs):
                    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 3))]
                    words[-1] = words[-1][:rng.randint(2, len(words[-1]))]  # still typing
                    queries.append(" ".join(words))

                async def bare(n):
                    match, params = matches("music_tracks", "t", queries[n])
                    await fetch(f"SELECT t.id FROM music_tracks t WHERE {match} LIMIT 20", params)

                async def search(n):
                    await catalog.search(user, queries[n])

                async def album_page(n):
                    album_id = album_ids[rng.randrange(len(album_ids))]
                    await catalog.album(user, album_id)
                    await catalog.album_tracks(user, album_id)

                async def sync_page(n):  # search3 "" as Symfonium syncs: 500 songs a page
                    await catalog.search(user, "", artist_count=0, album_count=0, song_count=500,
                                         song_offset=rng.randrange(0, max(tracks - 500, 1)))

                async def grid(n):
                    kind = "newest" if n % 2 else "alphabeticalByName"
                    await catalog.album_list(user, kind, size=50, offset=rng.randrange(0, 2000))

                await timed(5, search)  # warm caches and statement plans
                # The machine may be shared: its load says how far the times are from idle.
                print(machine_line(), flush=True)
                reference = await timed(runs, bare)
                report("bare full-text query (reference)", reference, None)
                checks = [
                    ("search", report("search as you type", await timed(runs, search), 30, reference)),
                    ("album page", report("album page (album + tracks)", await timed(runs, album_page),
                                          50, reference)),
                    ("album grid", report("album grid page (50 albums)", await timed(runs, grid),
                                          100, reference))]
                report('empty search, 500 songs (sync)', await timed(max(runs // 10, 5), sync_page),
                       None)
                print(machine_line())
                print(verdict(checks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=50000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--database", help="a PostgreSQL server URL: the run gets a database of its "
                                           "own there, dropped after (default: SQLite in the temp dir)")
    args = parser.parse_args()
    async def run():
        async with scratch_database(args.database) as database:
            await bench(args.tracks, database, args.runs)

    asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
