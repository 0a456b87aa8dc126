"""`collection_ingest`: an upload another plugin stored joins its uploader's collection.

The track's bytes stay where the uploading plugin stored them (the ledger row's backend;
`rel_path` holds the object key); music-library reads their tags and cover once.
"""

from __future__ import annotations

import asyncio
import os
import tempfile

from mediahub import current_host
from mediahub_music_library.models import MusicAlbum, MusicArtist, MusicTrack
from mediahub_music_library.queries import connection
from mediahub_music_library.reader import describe
from mediahub_music_library.writes import Rows, link_artists_and_genres, new_id
from mediahub_music_library.tags import Unreadable, read_tags


def safe_part(text, fallback: str) -> str:
    """One path part of the made-up path whose names fill in missing tags."""
    text = " ".join(str(text or "").replace("/", " ").split())[:200]
    return text or fallback


async def download(storage, key: str, path: str) -> bool:
    stat = await storage.stat(key)
    if stat is None or stat.size == 0:
        return False
    with open(path, "wb") as out:
        async for chunk in storage.open_range(key, 0, stat.size - 1):
            await asyncio.to_thread(out.write, chunk)
    return True


async def ingest(media, user, info: dict) -> str | None:
    if media is None or user is None or not info.get("source") or info.get("source_id") is None:
        return None
    key = info.get("key") or media.key
    path = info.get("path")
    if path and os.path.isfile(path):
        return await index_upload(media, user, info, key, path)
    storage = current_host().storage.get(media.backend)
    with tempfile.TemporaryDirectory(prefix="mediahub-ingest-") as workdir:
        local = os.path.join(workdir, "upload")
        if not await download(storage, key, local):
            return None
        return await index_upload(media, user, info, key, local)


async def index_upload(media, user, info: dict, key: str, path: str) -> str | None:
    from mediahub_music_library.covers import CoverFinder, cover_root

    config = current_host().plugin_config("music_library")
    try:
        tags = await asyncio.to_thread(read_tags, path, config.artist_separators,
                                       config.genre_separators)
    except (Unreadable, OSError):
        return None
    source, source_id = str(info["source"])[:64], str(info["source_id"])[:128]
    existing = await MusicTrack.get_or_none(source=source, source_id=source_id)
    made_up = (f"{safe_part(info.get('artist'), 'Unknown Artist')}/"
               f"{safe_part(info.get('album'), 'Uploads')}/"
               f"{safe_part(info.get('title'), 'Untitled')}.{tags.suffix}")
    described = describe(tags, made_up)
    rows = Rows()
    await rows.prepare(connection(), [described])
    values = rows.track_values(described)
    track_id = existing.id if existing else new_id("tr")
    cover_id = None
    if tags.picture:
        cover_id = await CoverFinder(cover_root()).remember(tags.picture, "media", None, None, track_id)
    values.update(folder_id=None, rel_path=key, path_key=None, owner_id=user.id, media_id=media.id,
                  source=source, source_id=source_id, present=True,
                  size=os.path.getsize(path), mtime=0.0, fingerprint=f"upload:{media.id}"[:64],
                  cover_id=cover_id)
    if existing is None:
        await MusicTrack.create(id=track_id, shared=False, **values)
    else:
        await MusicTrack.filter(id=track_id).update(**values)
    await link_artists_and_genres(track_id, values["artists"], values["genres"])
    if cover_id:
        album = rows.albums[described.album.key]
        await MusicAlbum.filter(id=album.id, cover_id=None).update(cover_id=cover_id)
        await MusicArtist.filter(id=album.artist_id, cover_id=None).update(cover_id=cover_id)
    return track_id


async def forget_lost_uploads() -> int:
    """Uploads whose stored bytes are gone (deleted by their plugin) leave the collection."""
    from mediahub import MediaObject

    lost = 0
    uploads = await MusicTrack.filter(folder_id=None, present=True).values_list("id", "media_id")
    for track_id, media_id in uploads:
        if media_id is None or not await MediaObject.exists(id=media_id, state="stored"):
            lost += await MusicTrack.filter(id=track_id).update(present=False)
    return lost
