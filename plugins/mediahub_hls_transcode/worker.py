"""The `hls_transcode` job: fetch the original, run ffmpeg, publish segments as they appear."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
import uuid
from pathlib import Path

from mediahub import (NotAudio, ffmpeg_path, first_result, format_duration, probe,
                      put_small_objects)
from mediahub_hls_transcode import store, transcode
from mediahub_hls_transcode.models import Track
from mediahub_hls_transcode.playlist import (Rendition, as_event, as_vod, ladder,
                                             master_playlist, parse_media_playlist)

log = logging.getLogger("mediahub.hls_transcode")

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/iso.segment"
INIT_TYPE = "video/mp4"
# New segments are looked for this often while ffmpeg runs until the track is playable
# (the master playlist is out), then at PUBLISH_INTERVAL: every look that finds some
# rewrites each rendition's playlist, and that work shares the cores with ffmpeg.
FIRST_PUBLISH_INTERVAL = 0.5
PUBLISH_INTERVAL = 2.0
DOWNLOAD_CHUNK = 1024 * 1024
# Files read and stored per storage call while publishing (bounds the memory a publish
# holds: ~16 x 150 KB at 192 kbit/s and 6 s segments).
STORE_GROUP = 16


async def transcode_job(ctx, payload: dict) -> dict:
    """Handler registered as `hls_transcode`; safe to run again after a crash (it starts over)."""
    try:
        track_id = uuid.UUID(str(payload.get("track_id")))
    except ValueError:
        return {"skipped": "bad track id"}
    track = await Track.get_or_none(id=track_id)
    if track is None or track.status != store.PROCESSING:
        return {"skipped": "track gone or not processing"}
    try:
        return await Transcode(ctx, track).run()
    except Exception as exc:
        message = str(exc) if isinstance(exc, (transcode.TranscodeFailed, NotAudio)) else (
            f"processing failed: {type(exc).__name__}: {exc}")
        out_of_tries = ctx.attempt >= ctx.job.max_tries
        await Track.filter(id=track.id, status=store.PROCESSING).update(
            error=message[:2000], status=store.FAILED if out_of_tries else store.PROCESSING)
        raise


class Transcode:
    """One run of the job for one track, in a private temp folder."""

    def __init__(self, ctx, track: Track):
        self.ctx = ctx
        self.host = ctx.host
        self.track = track
        self.config = store.settings(self.host)
        self.storage = store.storage_for(track, self.host)
        self.renditions = ladder(self.config.renditions)

    async def run(self) -> dict:
        with tempfile.TemporaryDirectory(prefix="mediahub-hls-") as workdir:
            source = os.path.join(workdir, "source")
            await self.download(source)
            info = await self.read_tags(source)
            duration = info.duration if info else 0.0
            limit = self.config.max_duration_seconds
            if duration > limit:
                # Trying again cannot help: fail now, with what the uploader can act on.
                message = (f"the track is {format_duration(duration)} long; at most "
                           f"{format_duration(limit)} is accepted")
                await Track.filter(id=self.track.id, status=store.PROCESSING).update(
                    status=store.FAILED, error=message)
                return {"refused": message}
            for rendition in self.renditions:
                os.makedirs(os.path.join(workdir, rendition.name))
            publisher = Publisher(self.storage, self.track, workdir, self.renditions)
            command = transcode.hls_command(ffmpeg_path(), source, workdir, self.renditions,
                                            self.config.segment_seconds, limit)
            last_publish = 0.0

            async def on_progress(percent: float) -> None:
                nonlocal last_publish
                await self.ctx.set_progress(min(percent, 99.0))
                interval = PUBLISH_INTERVAL if publisher.master_stored else FIRST_PUBLISH_INTERVAL
                if time.monotonic() - last_publish >= interval:
                    last_publish = time.monotonic()
                    await publisher.publish()

            stderr = await transcode.run(command, duration, on_progress,
                                         self.config.transcode_timeout)
            published = await publisher.publish(final=True)
            await self.join_collection(source)
        loudness = transcode.integrated_loudness(stderr)
        gain = None if loudness is None else round(self.config.target_lufs - loudness, 2)
        updated = await Track.filter(id=self.track.id).update(
            status=store.READY, error=None, duration_seconds=published or duration,
            loudness_lufs=loudness, gain_db=gain, master_ready=True,
            renditions=[r.kbps for r in self.renditions])
        if not updated:
            # Deleted while we worked: what we just wrote must not stay behind.
            await self.storage.delete_prefix(self.track.prefix)
            return {"deleted": True}
        await self.ctx.set_progress(100)
        return {"duration": published, "loudness_lufs": loudness}

    async def join_collection(self, path: str) -> None:
        """The upload joins its uploader's music collection (music-library's hook; nothing
        happens without that plugin). A failure there must not fail the transcode."""
        track = await Track.get_or_none(id=self.track.id)
        media = await self.host.ledger.get(self.track.media_id) if track else None
        if media is None:
            return
        try:
            await first_result("collection_ingest", media=media, user=await track.owner, info={
                "source": "hls-transcode", "source_id": str(track.id), "key": track.audio_key,
                "path": path, "title": track.title, "artist": track.artist_name,
                "album": track.album})
        except Exception:
            log.exception("collection_ingest failed for track %s", track.id)

    async def download(self, path: str) -> None:
        stat = await self.storage.stat(self.track.audio_key)
        if stat is None:
            raise RuntimeError("the uploaded file is missing from storage")
        with open(path, "wb") as out:
            async for chunk in self.storage.open_range(self.track.audio_key, 0, stat.size - 1):
                await asyncio.to_thread(out.write, chunk)

    async def read_tags(self, path: str):
        """Duration for progress, and tags for a title/artist the uploader left blank."""
        try:
            info = await asyncio.to_thread(probe, path)
        except NotAudio:
            return None  # ffmpeg may still decode it; if not, its error is the one to show
        fill = {}
        if not self.track.title and info.tags.get("title"):
            fill["title"] = info.tags["title"][:200]
        if not self.track.artist_name and info.tags.get("artist"):
            fill["artist_name"] = info.tags["artist"][:200]
        if not self.track.album and info.tags.get("album"):
            fill["album"] = info.tags["album"][:200]
        fill["duration_seconds"] = info.duration or None
        await Track.filter(id=self.track.id).update(**fill)
        return info


class Publisher:
    """Copies what ffmpeg has finished into storage: segments first, then the playlists naming them."""

    def __init__(self, storage, track: Track, workdir: str, renditions: list[Rendition]):
        self.storage = storage
        self.track = track
        self.workdir = Path(workdir)
        self.renditions = renditions
        self.stored: dict[str, set[str]] = {r.name: set() for r in renditions}
        self.playlists: dict[str, str] = {}
        self.master_stored = False

    async def publish(self, final: bool = False) -> float:
        """Store new segments and playlists; returns the shortest rendition's listed duration."""
        texts = await asyncio.to_thread(self.read_playlists)
        durations, new_files, playlists = [], [], []
        for rendition, text in zip(self.renditions, texts):
            if text is None:
                if final:
                    raise RuntimeError(f"ffmpeg wrote no playlist for {rendition.name}")
                durations.append(0.0)
                continue
            playlist = parse_media_playlist(text)
            names = ([playlist.init] if playlist.init else []) + [name for name, _ in playlist.segments]
            new_files += [(rendition.name, name, INIT_TYPE if name == playlist.init else SEGMENT_TYPE)
                          for name in names if name not in self.stored[rendition.name]]
            if playlist.segments:
                published = as_vod(text) if final else as_event(text)
                if self.playlists.get(rendition.name) != published:
                    playlists.append((rendition.name, published))
            durations.append(playlist.duration)
        # Every segment is durable before a playlist naming it is stored. They go a group at
        # a time (memory stays bounded), each group in one storage call: on local disk one
        # thread hop and one sync pass, where a put per file cost four hops and two fsyncs
        # (ffmpeg writes ~9 segments a second per rendition).
        for start in range(0, len(new_files), STORE_GROUP):
            group = new_files[start:start + STORE_GROUP]
            contents = await asyncio.to_thread(self.read_files, group)
            await put_small_objects(self.storage, [
                (store.hls_key(self.track, f"{folder}/{name}"), data, content_type)
                for (folder, name, content_type), data in zip(group, contents)])
            for folder, name, _ in group:
                self.stored[folder].add(name)
        if playlists:
            await put_small_objects(self.storage, [
                (store.hls_key(self.track, f"{folder}/{transcode.PLAYLIST_NAME}"), text.encode(),
                 PLAYLIST_TYPE) for folder, text in playlists])
            self.playlists.update(playlists)
        if not self.master_stored and all(self.stored[r.name] for r in self.renditions):
            # After the playlists it names.
            master = master_playlist(self.renditions, lambda r: f"{r.name}/{transcode.PLAYLIST_NAME}")
            await put_small_objects(self.storage, [
                (store.hls_key(self.track, "master.m3u8"), master.encode(), PLAYLIST_TYPE)])
            self.master_stored = True
            # Playable from now on: the detail answers with the master URL while processing.
            await Track.filter(id=self.track.id).update(master_ready=True)
        return min(durations) if durations else 0.0

    def read_playlists(self) -> list[str | None]:
        texts = []
        for rendition in self.renditions:
            try:
                texts.append((self.workdir / rendition.name / transcode.PLAYLIST_NAME).read_text())
            except FileNotFoundError:
                texts.append(None)
        return texts

    def read_files(self, files: list[tuple[str, str, str]]) -> list[bytes]:
        return [(self.workdir / folder / name).read_bytes() for folder, name, _ in files]
