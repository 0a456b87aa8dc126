"""The collection's pages (H14UI builds them; this placeholder only marks the place)."""

from __future__ import annotations

from quart import Blueprint

from mediahub import html_page, require_user

blueprint = Blueprint("music_pages", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/music/static")


@blueprint.get("/music")
@html_page
@require_user
async def music_home():
    """The collection: artists, albums, search and the player (placeholder)."""
    return "<!doctype html><title>Music</title><p>The music pages are being built.</p>"
