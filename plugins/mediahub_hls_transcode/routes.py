"""The seed's upload endpoints, track detail/list/delete, signed playlists, pages.

Presigned local-disk uploads are received by local-disk (`POST /media/upload/<backend>`); this
plugin says which of its keys still take one (`presigned_upload_open`, in __init__)."""

from __future__ import annotations

import time

from quart import Blueprint, Response, render_template
from quart_schema import document_response, security_scheme, validate_querystring, validate_request

from mediahub import (Forbidden, NotFound, StorageUnavailable, check_media_signature,
                      current_host, current_user, html_page, require_user)
from mediahub_hls_transcode import store
from mediahub_hls_transcode.models import Track
from mediahub_hls_transcode.playlist import parse_media_playlist, rewrite_uris, safe_segment_name
from mediahub_hls_transcode.schemas import (SignedQuery, TrackDeleted, TrackList,
                                            TrackOut, TrackProcessingStatusResponse,
                                            TrackUploadCompleteRequest, TrackUploadInitRequest,
                                            TrackUploadInitResponse)

blueprint = Blueprint("hls", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/hls/static")

BEARER = [{"bearer": []}]
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


# -- the seed's upload flow ---------------------------------------------------------------


@blueprint.post("/tracks/upload/init")
@security_scheme(BEARER)
@validate_request(TrackUploadInitRequest)
@document_response(TrackUploadInitResponse, 200)
@require_user
async def upload_init(data: TrackUploadInitRequest):
    """Create a pending track and presign its uploads: POST `fields` then `file` to each URL."""
    return await store.init_upload(
        await current_user(), title=data.title, artist_name=data.artist_name,
        file_extension=data.file_extension, file_size=data.file_size,
        artwork_extension=data.artwork_extension)


@blueprint.post("/tracks/upload/complete")
@security_scheme(BEARER)
@validate_request(TrackUploadCompleteRequest)
@document_response(TrackProcessingStatusResponse, 200)
@require_user
async def upload_complete(data: TrackUploadCompleteRequest):
    """Check the uploaded file (exists, real audio, declared size) and start processing.

    409 if the file was not uploaded yet or the upload was already completed.
    """
    track = await store.owned_track(data.track_id, await current_user())
    return await processing_status(await store.complete_upload(track))


async def processing_status(track) -> dict:
    """Seed 004's TrackProcessingStatusResponse: its words (pending, processing, completed,
    failed), which its client polls for; ours (`ready`) in the extra field `state`."""
    state, progress, error = await store.progress_of(track)
    return {"track_id": str(track.id), "status": store.SEED_STATUS[state], "state": state,
            "progress": progress, "error": error}


@blueprint.get("/tracks/upload/status/<track_id>")
@security_scheme(BEARER)
@document_response(TrackProcessingStatusResponse, 200)
@require_user
async def upload_status(track_id: str):
    """Processing status in the seed's words: pending, processing (progress 0-100), completed
    or failed (with the error); `state` is this server's word (`ready` for completed)."""
    return await processing_status(await store.owned_track(track_id, await current_user()))


# -- tracks -------------------------------------------------------------------------------


@blueprint.get("/api/tracks")
@security_scheme(BEARER)
@document_response(TrackList, 200)
@require_user
async def list_tracks():
    """The signed-in user's tracks, newest first."""
    user = await current_user()
    tracks = await Track.filter(owner_id=user.id).order_by("-created_at").limit(500)
    return {"tracks": [await store.track_json(track) for track in tracks]}


@blueprint.get("/api/tracks/<track_id>")
@security_scheme(BEARER)
@document_response(TrackOut, 200)
@require_user
async def track_detail(track_id: str):
    """One track: tags, duration, loudness, artwork URL and the HLS master playlist URL."""
    return await store.track_json(await store.owned_track(track_id, await current_user()))


@blueprint.delete("/api/tracks/<track_id>")
@security_scheme(BEARER)
@document_response(TrackDeleted, 200)
@require_user
async def delete_track(track_id: str):
    """Delete a track: its original, artwork and every rendition leave storage."""
    await store.delete_track(await store.owned_track(track_id, await current_user()))
    return {"deleted": True}


# -- playlists: signed, rewritten per request ---------------------------------------------


async def signed_track(track_id: str, name: str, query: SignedQuery) -> Track:
    problem = check_media_signature(current_host().secret_key, store.SIGNING_NAMESPACE,
                                    f"{track_id}/{name}", query.exp, query.sig, time.time())
    if problem:
        raise Forbidden(f"playlist link: {problem}")
    track = await Track.get_or_none(id=track_id)
    if track is None or not track.master_ready:
        raise NotFound("no such playlist")
    return track


async def read_object(storage, key: str) -> str:
    try:
        stat = await storage.stat(key)
        if stat is None:
            raise NotFound("no such playlist")
        data = b"".join([chunk async for chunk in storage.open_range(key, 0, stat.size - 1)])
    except NotFound:
        raise
    except Exception as exc:
        raise StorageUnavailable("storage is unavailable, try again later") from exc
    return data.decode("utf-8", "replace")


def playlist_response(text: str) -> Response:
    # Never cached: a playlist grows while the track is processed, and its links expire.
    return Response(text, content_type=PLAYLIST_TYPE, headers={"Cache-Control": "no-store"})


@blueprint.get("/tracks/<uuid:track_id>/hls/master.m3u8")
@validate_querystring(SignedQuery)
async def master_playlist(track_id, query_args: SignedQuery):
    """The master playlist (signed link from the track detail); variant links are signed too."""
    track = await signed_track(str(track_id), "master.m3u8", query_args)
    storage = store.storage_for(track)
    text = await read_object(storage, store.hls_key(track, "master.m3u8"))
    ttl = current_host().settings.server.media_url_ttl

    def resolve(uri: str) -> str:
        return store.signed_playlist_url(track, uri, ttl)

    return playlist_response(rewrite_uris(text, resolve))


@blueprint.get("/tracks/<uuid:track_id>/hls/<rendition>/index.m3u8")
@validate_querystring(SignedQuery)
async def media_playlist(track_id, rendition: str, query_args: SignedQuery):
    """A rendition's media playlist with its init section and segments as signed storage URLs."""
    if not safe_segment_name(rendition):
        raise NotFound("no such playlist")
    track = await signed_track(str(track_id), f"{rendition}/index.m3u8", query_args)
    storage = store.storage_for(track)
    text = await read_object(storage, store.hls_key(track, f"{rendition}/index.m3u8"))
    ttl = current_host().settings.server.media_url_ttl
    # Every name is resolved first (url() is async), then the text is rewritten.
    urls: dict[str, str] = {}
    listed = parse_media_playlist(text)
    for name in ([listed.init] if listed.init else []) + [name for name, _ in listed.segments]:
        if not safe_segment_name(name):
            raise NotFound("no such playlist")
        url = await storage.url(store.hls_key(track, f"{rendition}/{name}"), ttl)
        if url is None:
            raise StorageUnavailable("this storage backend cannot hand out segment URLs")
        urls[name] = url
    return playlist_response(rewrite_uris(text, urls.__getitem__))


# -- pages --------------------------------------------------------------------------------


@blueprint.get("/tracks")
@html_page
@require_user
async def library_page():
    """The signed-in user's tracks with a player."""
    return await render_template("hls/library.html")


@blueprint.get("/tracks/upload")
@html_page
@require_user
async def upload_page():
    """Pick a file and artwork, fill title and artist, watch the upload and the processing."""
    return await render_template("hls/upload.html")
