"""Shared pieces of the music-library tests: tagged tones made by ffmpeg, the plugin's config, a scan,
the `mediahub library` CLI, the JSON reader and the browsing check run on both databases."""

from __future__ import annotations

import subprocess

from click.testing import CliRunner

from mediahub import current_host, ffmpeg_path
from mediahub.cli import main

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


def library_config(collection, **extra) -> dict:
    """`[plugins.music_library]` overrides for the test collection (bob alone sees "kids")."""
    return {"plugins": {"music_library": {
        "folders": [str(collection["main"]),
                    {"path": str(collection["kids"]), "name": "Kids", "users": ["bob"]}],
        "scan_on_start": False, "watch": False, "rescan_interval": 0, **extra}}}


async def scan_now(app):
    from mediahub_music_library.scanner import scan_folders

    async with app.app_context():
        return await scan_folders(current_host().plugin_config("music_library"))


async def get(client, path, headers, status=200):
    response = await client.get(path, headers=headers)
    body = await response.get_json()
    assert response.status_code == status, body
    return body


def names(items, key="name"):
    return [item[key] for item in items]


async def check_browsing(client, alice, bob):
    """Run on the shared SQLite app here and on PostgreSQL in test_catalog_postgres.py."""
    assert names((await get(client, "/api/music/folders", alice))["folders"]) == ["main"]
    assert names((await get(client, "/api/music/folders", bob))["folders"]) == ["main", "Kids"]

    # Artists sorted by name; "Jónsi" is a second artist of one track, not "Sigur Rós; Jónsi".
    artists = (await get(client, "/api/music/artists", alice))["artists"]
    assert names(artists) == ["ABBA", "Beyoncé", "Jónsi", "Queen", "Sigur Rós"]
    assert "Pinkfong" in names((await get(client, "/api/music/artists", bob))["artists"])

    # Two "Greatest Hits" by two artists stay two albums.
    albums = (await get(client, "/api/music/albums?type=alphabeticalByName", alice))["albums"]
    assert names(albums) == ["Greatest Hits", "Greatest Hits", "Lemonade", "Takk..."]
    assert {a["artist"] for a in albums[:2]} == {"ABBA", "Queen"}
    by_year = (await get(client, "/api/music/albums?type=byYear&fromYear=2020&toYear=1990", alice))
    assert names(by_year["albums"]) == ["Lemonade", "Takk...", "Greatest Hits"]
    page = (await get(client, "/api/music/albums?type=alphabeticalByArtist&size=2&offset=1", alice))
    assert [a["artist"] for a in page["albums"]] == ["Beyoncé", "Queen"]
    rock = await get(client, "/api/music/albums?type=byGenre&genre=Post-Rock", alice)
    assert names(rock["albums"]) == ["Takk..."]

    # An album page: its tracks in track order, counts and shapes the pages rely on.
    takk = next(a for a in albums if a["name"] == "Takk...")
    body = await get(client, f"/api/music/albums/{takk['id']}", alice)
    assert body["album"]["songCount"] == 2 and 1.5 < body["album"]["duration"] < 2.5
    assert names(body["tracks"], "title") == ["Glósóli", "Hoppípolla"]
    hoppipolla = body["tracks"][1]
    assert names(hoppipolla["artists"]) == ["Sigur Rós", "Jónsi"]
    assert hoppipolla["albumArtist"] == "Sigur Rós" and hoppipolla["trackNo"] == 2
    assert hoppipolla["streamUrl"] == f"/api/music/tracks/{hoppipolla['id']}/stream"
    assert hoppipolla["suffix"] == "ogg" and hoppipolla["uploaded"] is False
    assert hoppipolla["genres"] == ["Post-Rock"] and hoppipolla["year"] == 2005

    jonsi = next(a for a in artists if a["name"] == "Jónsi")
    body = await get(client, f"/api/music/artists/{jonsi['id']}", alice)
    assert body["artist"]["albumCount"] == 1 and names(body["albums"]) == ["Takk..."]

    # Search: accents and case ignored, every word a prefix, artists/albums/tracks each.
    found = await get(client, "/api/music/search?q=beyonce", alice)
    assert names(found["artists"]) == ["Beyoncé"]
    assert names(found["albums"]) == ["Lemonade"]
    assert sorted(names(found["tracks"], "title")) == ["Formation", "Hold Up"]
    found = await get(client, "/api/music/search?q=SIGUR%20ro", alice)
    assert names(found["artists"]) == ["Sigur Rós"] and names(found["albums"]) == ["Takk..."]
    found = await get(client, "/api/music/search?q=hoppi", alice)
    assert names(found["tracks"], "title") == ["Hoppípolla"]
    assert (await get(client, "/api/music/search?q=beyonce%20zzz", alice))["tracks"] == []
    # Empty query: everything, paged.
    everything = await get(client, "/api/music/search?q=&songCount=4&songOffset=4", alice)
    assert len(everything["artists"]) == 5 and len(everything["albums"]) == 4
    assert names(everything["tracks"], "title") == ["Hold Up", "Hoppípolla"]

    # The kids folder is bob's: alice neither lists nor finds nor opens it.
    assert (await get(client, "/api/music/search?q=baby", alice))["tracks"] == []
    shark = (await get(client, "/api/music/search?q=baby", bob))["tracks"][0]
    await get(client, f"/api/music/tracks/{shark['id']}", alice, status=404)
    await get(client, f"/api/music/albums/{shark['albumId']}", alice, status=404)
    assert (await get(client, f"/api/music/tracks/{shark['id']}", bob))["track"]["title"] == "Baby Shark"
    pop = await get(client, "/api/music/genres", alice)
    assert {g["name"]: g["songCount"] for g in pop["genres"]}["Pop"] == 1
    assert {g["name"]: g["songCount"] for g in (await get(client, "/api/music/genres", bob))["genres"]}["Pop"] == 2

    # Tracks by ids keep the order asked and leave out what the viewer may not see.
    ids = f"{shark['id']},{hoppipolla['id']},tr-0000000000000000,{body['albums'][0]['id']}"
    listed = await get(client, f"/api/music/tracks?ids={ids}", alice)
    assert names(listed["tracks"], "id") == [hoppipolla["id"]]
    listed = await get(client, f"/api/music/tracks?ids={hoppipolla['id']},{shark['id']}", bob)
    assert names(listed["tracks"], "id") == [hoppipolla["id"], shark["id"]]

    formation = next(t for t in found["tracks"] + (await get(
        client, "/api/music/search?q=formation", alice))["tracks"] if t["title"] == "Formation")
    assert formation["hasLyrics"] is True
    lyrics = await get(client, f"/api/music/tracks/{formation['id']}/lyrics", alice)
    assert lyrics == {"lyrics": "Okay, ladies"}
    genre = await get(client, "/api/music/genres/R%26B/tracks?size=1&offset=1", alice)
    assert names(genre["tracks"], "title") == ["Hold Up"]
    assert len((await get(client, "/api/music/random?size=3", alice))["tracks"]) == 3


def make_song(path, title, artist, album, track):
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i",
                    f"sine=frequency={300 + 50 * track}:duration=1", "-c:a", "libmp3lame",
                    "-metadata", f"title={title}", "-metadata", f"artist={artist}",
                    "-metadata", f"album={album}", "-metadata", f"track={track}/2", str(path)],
                   check=True)


def run(config, *args):
    result = CliRunner().invoke(main, ["-c", str(config), "library", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


MANY_CODECS = {".mp3": ["-c:a", "libmp3lame"], ".flac": ["-c:a", "flac"], ".ogg": ["-c:a", "libvorbis"],
               ".m4a": ["-c:a", "aac"]}


def make_many(folder, count: int) -> list:
    """`count` tagged files (MP3, FLAC, Ogg Vorbis, M4A in turn; "Artist <n // 100>/Album <n // 10>/
    <n>.<suffix>"): one ffmpeg tone per format, copied and retagged with mutagen, so a collection
    of several scan batches takes a second or two to make."""
    import shutil

    import mutagen

    seeds = {}
    for suffix, codec in MANY_CODECS.items():
        seeds[suffix] = folder.parent / f".seed-{folder.name}{suffix}"
        subprocess.run([ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1",
                        *codec, str(seeds[suffix])], check=True)
    paths = []
    for number in range(count):
        suffix = list(MANY_CODECS)[number % len(MANY_CODECS)]
        artist, album = f"Artist {number // 100}", f"Album {number // 10}"
        path = folder / artist / album / f"{number:05d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seeds[suffix], path)
        audio = mutagen.File(path, easy=True)
        if audio.tags is None:
            audio.add_tags()
        audio["title"], audio["artist"], audio["album"] = f"Song {number}", artist, album
        audio["tracknumber"] = str(number % 10 + 1)
        audio.save()
        paths.append(path)
    for seed in seeds.values():
        seed.unlink()
    return paths
