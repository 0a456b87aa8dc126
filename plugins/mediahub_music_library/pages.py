"""The collection's pages: one shell for every /music address; static/music/app.js draws the views.

Every page of the collection is the same document (the layout, the view area and the player
bar). The script renders the view for the address from the JSON API and moves between views
with the History API, so the `<audio>` element of the player bar is never unloaded: music keeps
playing while the listener browses. Loading any of these addresses directly (a bookmark, a
reload, a phone opening a shared link) gives the same shell, which then draws that view.
"""

from __future__ import annotations

from quart import Blueprint, render_template

from mediahub import html_page, require_user

blueprint = Blueprint("music_pages", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/music/static")

# The views the script knows, each with the title shown before the data arrives.
VIEWS = {
    "home": "Music",
    "artists": "Artists",
    "artist": "Artist",
    "albums": "Albums",
    "album": "Album",
    "genres": "Genres",
    "genre": "Genre",
    "search": "Search",
    "favorites": "Favorites",
    "playlists": "Playlists",
    "playlist": "Playlist",
    "history": "History",
    "queue": "Queue",
}


async def render_shell(view: str):
    return await render_template("music/app.html", view=view, view_title=VIEWS[view])


@blueprint.get("/music")
@html_page
@require_user
async def music_home():
    """The collection: recently added albums, search, and the player bar."""
    return await render_shell("home")


@blueprint.get("/music/artists")
@html_page
@require_user
async def music_artists():
    return await render_shell("artists")


@blueprint.get("/music/artists/<artist_id>")
@html_page
@require_user
async def music_artist(artist_id: str):
    return await render_shell("artist")


@blueprint.get("/music/albums")
@html_page
@require_user
async def music_albums():
    return await render_shell("albums")


@blueprint.get("/music/albums/<album_id>")
@html_page
@require_user
async def music_album(album_id: str):
    return await render_shell("album")


@blueprint.get("/music/genres")
@html_page
@require_user
async def music_genres():
    return await render_shell("genres")


@blueprint.get("/music/genres/<path:genre>")
@html_page
@require_user
async def music_genre(genre: str):
    return await render_shell("genre")


@blueprint.get("/music/search")
@html_page
@require_user
async def music_search():
    return await render_shell("search")


@blueprint.get("/music/favorites")
@html_page
@require_user
async def music_favorites():
    return await render_shell("favorites")


@blueprint.get("/music/playlists")
@html_page
@require_user
async def music_playlists():
    return await render_shell("playlists")


@blueprint.get("/music/playlists/<playlist_id>")
@html_page
@require_user
async def music_playlist(playlist_id: str):
    return await render_shell("playlist")


@blueprint.get("/music/history")
@html_page
@require_user
async def music_history():
    return await render_shell("history")


@blueprint.get("/music/queue")
@html_page
@require_user
async def music_queue():
    return await render_shell("queue")
