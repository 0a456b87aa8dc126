"""Collection scan speed: `mediahub library scan`'s work against a bare mutagen loop over the same files.

    python bench/scan.py --files 10000 [--database postgres://...]

Generates the collection once per format with ffmpeg, then tags copies with mutagen (distinct
titles, artists, albums, track numbers). Prints files/s of the bare loop, of the full scan
(ratio; target >= 0.7x), the unchanged rescan time (target <= 2 s), how long the folder
watcher of `mediahub serve` takes to show one retagged file (target <= 2 s, the worst of
three), the RSS during the full scan (target: flat, growing by at most 1 MiB per 1,000 files
after the first tenth) and whether each target is met. A PostgreSQL run gets a database of
its own on the given server, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_line, scratch_database, verdict  # noqa: E402

WATCH_TRIALS = 3

FORMATS = {"mp3": ["-c:a", "libmp3lame"], "flac": ["-c:a", "flac"], "ogg": ["-c:a", "libvorbis"],
           "m4a": ["-c:a", "aac"]}


def generate(folder: Path, count: int) -> list[Path]:
    import mutagen

    from mediahub import ffmpeg_path

    seeds = {}
    for suffix, codec in FORMATS.items():
        seeds[suffix] = folder / f"seed.{suffix}"
        subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=2",
                        *codec, str(seeds[suffix])], check=True)
    paths = []
    for number in range(count):
        suffix = list(FORMATS)[number % len(FORMATS)]
        artist, album = f"Artist {number // 100}", f"Album {number // 10}"
        path = folder / "music" / artist / album / f"{number:05d}.{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seeds[suffix], path)
        audio = mutagen.File(path, easy=True)
        if audio.tags is None:
            audio.add_tags()
        audio["title"], audio["artist"], audio["album"] = f"Song {number}", artist, album
        audio["tracknumber"] = str(number % 10 + 1)
        audio.save()
        paths.append(path)
    return paths


def bare_loop(paths: list[Path]) -> float:
    import mutagen

    started = time.perf_counter()
    for path in paths:
        audio = mutagen.File(path)
        _ = audio.tags, audio.info.length
    return len(paths) / (time.perf_counter() - started)


def rss_mib() -> float:
    """This process's resident memory now (not the peak)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


async def scan(folder: Path, database: str | None) -> dict:
    from mediahub.testing import make_settings, running_app
    from mediahub_music_library.scanner import scan_folders

    # The app's own background scan and watcher stay off: the bench runs each step itself.
    overrides = {"plugins": {"music_library": {"folders": [str(folder / "music")], "watch": False,
                                               "scan_on_start": False, "rescan_interval": 0}}}
    if database:
        overrides["database"] = {"url": database}
    samples: list[tuple[int, float]] = []  # (files indexed so far, RSS)

    def progress(counts) -> None:
        done = counts.added + counts.changed + counts.failed
        if not samples or done - samples[-1][0] >= 200:
            samples.append((done, rss_mib()))

    async with running_app(make_settings(folder / "data", overrides)) as app, app.app_context():
        config = app.extensions["mediahub"].plugin_config("music_library")
        started = time.perf_counter()
        counts = await scan_folders(config, progress)
        full = time.perf_counter() - started
        samples.append((counts.added + counts.changed + counts.failed, rss_mib()))
        started = time.perf_counter()
        again = await scan_folders(config)
        rescan = time.perf_counter() - started
        assert again.added == again.changed == 0, again
        picked_up = await watcher_pickups(config, folder / "music")
    return {"rate": counts.added / full, "rescan": rescan, "added": counts.added,
            "samples": samples, "picked_up": picked_up}


async def watcher_pickups(config, music: Path) -> list[float]:
    """Seconds from retagging one file to its new title being in the collection, as the
    watcher of `mediahub serve` (LibraryService) does it, WATCH_TRIALS times."""
    import mutagen

    from mediahub_music_library.models import MusicTrack
    from mediahub_music_library.service import LibraryService

    watching = config.model_copy(update={"watch": True, "scan_on_start": False, "rescan_interval": 0})
    service = LibraryService(watching)
    service.start()
    try:
        while not service.watching:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # the watcher's first poll
        target = sorted(music.rglob("*.mp3"))[len(list(music.rglob("*.mp3"))) // 2]
        seconds = []
        for trial in range(WATCH_TRIALS):
            title = f"Retagged {trial}"
            audio = mutagen.File(target, easy=True)
            audio["title"] = title
            started = time.perf_counter()
            audio.save()
            while not await MusicTrack.filter(title=title, present=True).exists():
                if time.perf_counter() - started > 30:
                    raise SystemExit(f"the watcher did not pick up {target} within 30 s")
                await asyncio.sleep(0.02)
            seconds.append(time.perf_counter() - started)
            await asyncio.sleep(1.0)  # let the watcher settle before the next change
        return seconds
    finally:
        await service.stop()


def rss_growth(samples: list[tuple[int, float]]) -> tuple[float, float]:
    """(MiB gained after the first tenth of the files, per 1,000 files of that stretch)."""
    total = samples[-1][0]
    start = next((s for s in samples if s[0] >= total / 10), samples[0])
    gained = samples[-1][1] - start[1]
    return gained, gained / max((total - start[0]) / 1000, 0.001)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--database", help="a PostgreSQL server URL: the run gets a database of its "
                                           "own there, dropped after (default: SQLite in the temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mediahub-bench-scan-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        paths = generate(folder, args.files)
        print(f"generated {len(paths)} files in {time.perf_counter() - started:.1f} s")
        bare = bare_loop(paths)
        result = asyncio.run(run(folder, args.database))
        gained, per_thousand = rss_growth(result["samples"])
        worst_pickup = max(result["picked_up"])
        rate = result["rate"]
        print(machine_line())
        print(f"database:          {'PostgreSQL' if args.database else 'SQLite'}, {result['added']} files added")
        print(f"bare mutagen loop: {bare:8.0f} files/s")
        print(f"full scan:         {rate:8.0f} files/s  ({rate / bare:.2f}x, target >= 0.7x)")
        print(f"unchanged rescan:  {result['rescan']:8.2f} s (target <= 2 s)")
        print(f"watcher pick-up:   {worst_pickup:8.2f} s worst of "
              f"{', '.join(f'{value:.2f}' for value in result['picked_up'])} (target <= 2 s)")
        print(f"RSS during scan:   {result['samples'][0][1]:.0f} -> {result['samples'][-1][1]:.0f} MiB, "
              f"+{gained:.1f} MiB after the first tenth ({per_thousand:.2f} MiB per 1,000 files, "
              f"target <= 1)")
        print(f"peak RSS:          {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MiB")
        print(verdict([("scan rate", rate / bare >= 0.7), ("rescan", result["rescan"] <= 2),
                       ("watcher", worst_pickup <= 2), ("RSS flat", per_thousand <= 1)]))


async def run(folder: Path, server: str | None) -> dict:
    async with scratch_database(server) as database:
        return await scan(folder, database)


if __name__ == "__main__":
    sys.exit(main())
