"""The hls-transcode plugin: presigned track uploads, an ffmpeg worker turning them into HLS."""

from __future__ import annotations

from mediahub import hookimpl

# Playlists and segments get their Content-Type from mediahub.storage.guess_content_type,
# which knows .m3u8, .m4s and .ts (Python's mimetypes does not).


@hookimpl
def register_config_sections():
    from mediahub_hls_transcode.settings import HlsSettings

    return {"hls_transcode": HlsSettings}


@hookimpl
def register_models():
    return {"hls_transcode": {"models": "mediahub_hls_transcode.models",
                              "migrations": "mediahub_hls_transcode.migrations"}}


@hookimpl
def register_routes(app):
    from mediahub_hls_transcode.routes import blueprint

    return [blueprint]


@hookimpl
def register_jobs():
    from mediahub_hls_transcode.worker import transcode_job

    return {"hls_transcode": transcode_job}


@hookimpl
def register_nav_items(request):
    if getattr(request, "mediahub_user", None) is None:
        return []
    return [{"label": "Tracks", "href": "/tracks"}]


@hookimpl(optionalhook=True)
async def presigned_upload_open(backend, key):
    """local-disk's receiver asks before storing: a track's keys take uploads while it is pending,
    so after `complete` a still-valid policy cannot replace the checked audio or artwork."""
    from tortoise.expressions import Q

    from mediahub_hls_transcode import store
    from mediahub_hls_transcode.models import Track

    track = await Track.filter(Q(audio_key=key) | Q(artwork_key=key)).only("status").first()
    return None if track is None else track.status == store.PENDING


@hookimpl
async def cleanup(now):
    from mediahub_hls_transcode.store import forget_abandoned

    return {"abandoned_tracks": await forget_abandoned()}


# -- listen-party's track-source hooks (optional: this plugin loads without listen-party) --


@hookimpl(optionalhook=True)
def party_track_sources(user):
    from quart import url_for

    return [{"source": "library", "label": "From your library", "picker": "list",
             "scripts": [url_for("hls.static", filename="hls.min.js")]}]


@hookimpl(optionalhook=True)
async def party_track_resolve(source, track_id, session_id, user):
    from mediahub_hls_transcode import party_source

    return await party_source.resolve(track_id, user) if source == party_source.LIBRARY else None


@hookimpl(optionalhook=True)
async def party_track_url(source, track_id):
    from mediahub_hls_transcode import party_source

    return await party_source.fresh_url(track_id) if source == party_source.LIBRARY else None


@hookimpl(optionalhook=True)
async def party_track_search(source, user, query, limit):
    from mediahub_hls_transcode import party_source

    if source not in (None, party_source.LIBRARY) or user is None:
        return None
    return await party_source.search(user, query, limit)
