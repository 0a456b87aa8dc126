"""The music-library plugin: folders scanned into a collection, searched, browsed, streamed."""

from __future__ import annotations

from mediahub import hookimpl


@hookimpl
def register_hookspecs():
    from mediahub_music_library import hookspecs

    return hookspecs


@hookimpl
def music_catalog():
    from mediahub_music_library.api import catalog

    return catalog


@hookimpl
async def collection_ingest(media, user, info):
    from mediahub_music_library.ingest import ingest

    return await ingest(media, user, info)


@hookimpl
async def cleanup(now):
    from mediahub_music_library.ingest import forget_lost_uploads

    return {"music_uploads_gone": await forget_lost_uploads()}


@hookimpl
def register_config_sections():
    from mediahub_music_library.settings import MusicLibrarySettings

    return {"music_library": MusicLibrarySettings}


@hookimpl
def register_models():
    return {"music_library": {"models": "mediahub_music_library.models",
                              "migrations": "mediahub_music_library.migrations"}}


@hookimpl
def register_routes(app):
    from mediahub_music_library import pages
    from mediahub_music_library.api import blueprint as api

    @app.before_serving
    async def mark_serving():
        # Runs for `mediahub serve` (and test apps), not for `mediahub library scan`,
        # whose process must not start a watcher: `startup` below looks at this mark.
        app.extensions["music_library_serving"] = True

    return [api, pages.blueprint]


@hookimpl
def startup(app):
    from mediahub import current_host

    config = current_host().plugin_config("music_library")
    if not app.extensions.get("music_library_serving") or not config.folders:
        return
    from mediahub_music_library.service import LibraryService

    service = LibraryService(config)
    app.extensions["music_library"] = service
    service.start()


@hookimpl
async def shutdown(app):
    service = app.extensions.pop("music_library", None)
    if service is not None:
        await service.stop()


@hookimpl
def register_nav_items(request):
    if getattr(request, "mediahub_user", None) is None:
        return []
    return [{"label": "Music", "href": "/music"}]


@hookimpl
def register_commands(cli):
    from mediahub_music_library.commands import library

    cli.add_command(library)


# -- listen-party's track-source hooks (optional: this plugin loads without listen-party) --


@hookimpl(optionalhook=True)
def party_track_sources(user):
    from mediahub_music_library import party

    return party.sources(user)


@hookimpl(optionalhook=True)
async def party_track_resolve(source, track_id, session_id, user):
    from mediahub_music_library import party

    return await party.resolve(track_id, user) if source == party.SOURCE else None


@hookimpl(optionalhook=True)
async def party_track_url(source, track_id):
    from mediahub_music_library import party

    return await party.fresh_url(track_id) if source == party.SOURCE else None


@hookimpl(optionalhook=True)
async def party_track_search(source, user, query, limit):
    from mediahub_music_library import party

    if source not in (None, party.SOURCE) or user is None:
        return None
    return await party.search(user, query, limit)
