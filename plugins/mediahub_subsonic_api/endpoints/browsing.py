"""Browsing: music folders, indexes and directories, artists, albums, songs, genres."""

from __future__ import annotations

import time

from mediahub_subsonic_api import shapes
from mediahub_subsonic_api.endpoints import Call, endpoint
from mediahub_subsonic_api.marks import marks_of
from mediahub_subsonic_api.wire import not_found


def folder_param(call: Call) -> int | None:
    return call.params.int("musicFolderId", minimum=0)


@endpoint("getMusicFolders")
async def get_music_folders(call: Call) -> dict:
    catalog = await call.catalog()
    folders = await catalog.folders(call.user)
    return {"musicFolders": {"musicFolder": [{"id": f.id, "name": f.name} for f in folders]}}


@endpoint("getIndexes")
async def get_indexes(call: Call) -> dict:
    catalog = await call.catalog()
    marks = await marks_of(call)
    artists = await catalog.artists(call.user, folder_id=folder_param(call))
    return {"indexes": {
        "lastModified": int(time.time() * 1000), "ignoredArticles": shapes.IGNORED_ARTICLES,
        "index": shapes.indexed(artists, lambda a: shapes.artist_plain(a, marks)),
    }}


@endpoint("getArtists")
async def get_artists(call: Call) -> dict:
    catalog = await call.catalog()
    marks = await marks_of(call)
    artists = await catalog.artists(call.user, folder_id=folder_param(call))
    return {"artists": {
        "ignoredArticles": shapes.IGNORED_ARTICLES,
        "index": shapes.indexed(artists, lambda a: shapes.artist_id3(a, marks)),
    }}


@endpoint("getArtist")
async def get_artist(call: Call) -> dict:
    catalog = await call.catalog()
    artist_id = call.params.str("id", required=True)
    artist = await catalog.artist(call.user, artist_id)
    if artist is None:
        raise not_found("artist")
    marks = await marks_of(call)
    albums = await catalog.artist_albums(call.user, artist_id)
    return {"artist": {**shapes.artist_id3(artist, marks),
                       "album": [shapes.album_id3(a, marks) for a in albums]}}


@endpoint("getAlbum")
async def get_album(call: Call) -> dict:
    catalog = await call.catalog()
    album_id = call.params.str("id", required=True)
    album = await catalog.album(call.user, album_id)
    if album is None:
        raise not_found("album")
    marks = await marks_of(call)
    tracks = await catalog.album_tracks(call.user, album_id)
    return {"album": {**shapes.album_id3(album, marks),
                      "song": [shapes.song(t, marks) for t in tracks]}}


@endpoint("getSong")
async def get_song(call: Call) -> dict:
    catalog = await call.catalog()
    track = await catalog.track(call.user, call.params.str("id", required=True))
    if track is None:
        raise not_found("song")
    return {"song": shapes.song(track, await marks_of(call))}


@endpoint("getMusicDirectory")
async def get_music_directory(call: Call) -> dict:
    """Folder browsing over the tags: a music folder lists artists, an artist its albums,
    an album its songs (what Navidrome does too; apps only follow the ids)."""
    catalog = await call.catalog()
    marks = await marks_of(call)
    directory_id = call.params.str("id", required=True)
    if directory_id.startswith("al-"):
        album = await catalog.album(call.user, directory_id)
        if album is None:
            raise not_found("directory")
        tracks = await catalog.album_tracks(call.user, directory_id)
        return {"directory": {"id": album.id, "name": album.name, "parent": album.artist_id,
                              **marks.of(album.id),
                              "child": [shapes.song(t, marks) for t in tracks]}}
    if directory_id.startswith("ar-"):
        artist = await catalog.artist(call.user, directory_id)
        if artist is None:
            raise not_found("directory")
        albums = await catalog.artist_albums(call.user, directory_id)
        return {"directory": {"id": artist.id, "name": artist.name, **marks.of(artist.id),
                              "child": [shapes.album_child(a, marks) for a in albums]}}
    if directory_id.isdigit():
        folders = {str(f.id): f for f in await catalog.folders(call.user)}
        folder = folders.get(directory_id)
        if folder is None:
            raise not_found("directory")
        artists = await catalog.artists(call.user, folder_id=folder.id)
        children = [{"id": a.id, "parent": directory_id, "isDir": True, "title": a.name,
                     "artist": a.name, "coverArt": a.cover_id, **marks.of(a.id)}
                    for a in artists]
        return {"directory": {"id": directory_id, "name": folder.name, "child": children}}
    raise not_found("directory")


@endpoint("getGenres")
async def get_genres(call: Call) -> dict:
    catalog = await call.catalog()
    genres = await catalog.genres(call.user)
    return {"genres": {"genre": [{"value": g.name, "songCount": g.song_count,
                                  "albumCount": g.album_count} for g in genres]}}
