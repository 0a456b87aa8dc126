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

    return [api, pages.blueprint]


@hookimpl
def register_nav_items(request):
    if getattr(request, "mediahub_user", None) is None:
        return []
    return [{"label": "Music", "href": "/music"}]


@hookimpl
def register_commands(cli):
    from mediahub_music_library.commands import library

    cli.add_command(library)
