"""The subsonic-api plugin: the Subsonic/OpenSubsonic API over the collection and library-sync."""

from __future__ import annotations

from mediahub import hookimpl


@hookimpl
def register_models():
    return {"subsonic_api": {"models": "mediahub_subsonic_api.models",
                             "migrations": "mediahub_subsonic_api.migrations"}}


@hookimpl
def register_routes(app):
    from mediahub_subsonic_api import pages
    from mediahub_subsonic_api.routes import blueprint

    return [blueprint, pages.blueprint]


@hookimpl
def register_nav_items(request):
    user = getattr(request, "mediahub_user", None)
    if user is None or user.is_guest:
        return []
    return [{"label": "Apps", "href": "/account/subsonic"}]


@hookimpl
async def cleanup(now):
    from datetime import timedelta

    from mediahub_subsonic_api.models import NowPlaying

    # Now-playing reports older than a day are of no use to anyone.
    removed = await NowPlaying.filter(updated_at__lt=now - timedelta(days=1)).delete()
    return {"subsonic_now_playing": removed}
