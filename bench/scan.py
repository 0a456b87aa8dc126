"""Collection scan speed: `mediahub library scan`'s work against a bare mutagen loop over the same files.

    python bench/scan.py --files 10000 [--database postgres://...]

Generates the collection once per format with ffmpeg, then tags copies with mutagen (distinct
titles, artists, albums, track numbers). Prints files/s of the bare loop, of the full scan
(ratio; target >= 0.7x), the unchanged rescan time (target <= 2 s) and peak RSS.
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


async def scan(folder: Path, database: str | None) -> tuple[float, float, int]:
    from mediahub.testing import make_settings, running_app
    from mediahub_music_library.scanner import scan_folders

    overrides = {"plugins": {"music_library": {"folders": [str(folder / "music")]}}}
    if database:
        overrides["database"] = {"url": database}
    async with running_app(make_settings(folder / "data", overrides)) as app:
        config = app.extensions["mediahub"].plugin_config("music_library")
        started = time.perf_counter()
        counts = await scan_folders(config)
        full = time.perf_counter() - started
        started = time.perf_counter()
        again = await scan_folders(config)
        rescan = time.perf_counter() - started
    assert again.added == again.changed == 0, again
    return counts.added / full, rescan, counts.added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--database", help="a PostgreSQL URL (default: SQLite in the temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mediahub-bench-scan-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        paths = generate(folder, args.files)
        print(f"generated {len(paths)} files in {time.perf_counter() - started:.1f} s")
        bare = bare_loop(paths)
        scanned, rescan, added = asyncio.run(scan(folder, args.database))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"bare mutagen loop: {bare:8.0f} files/s")
        print(f"full scan:         {scanned:8.0f} files/s  ({scanned / bare:.2f}x, target >= 0.7x), {added} added")
        print(f"unchanged rescan:  {rescan:8.2f} s (target <= 2 s)")
        print(f"peak RSS:          {rss:8.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
