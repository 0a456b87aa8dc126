"""The hooks music-library owns: the catalog provider and how other plugins add tracks to it."""

from __future__ import annotations

from mediahub import hookspec


@hookspec
def music_catalog():
    """The collection's catalog: an object whose async methods browse, search and stream it.

    Consumers call `await first_result("music_catalog")` (stops at the first non-None
    result) and get None when music-library is disabled. music-library answers with
    `trylast=True`, so another plugin can wrap or replace it. The methods and the
    dataclasses they return are listed in docs/music-library.md.
    """


@hookspec
def collection_ingest(media, owner, title, artist, album, duration, shared, source, source_id):
    """Add an uploaded track (a stored ledger object) to the collection of its owner.

    :param media: the `MediaObject` holding the audio (state "stored"); the collection reads
        its tags, streams and transcodes it from storage.
    :param owner: the `User` who uploaded it; the track is theirs unless `shared` is True
        (then every account sees it).
    :param title/artist/album: what the uploader typed (None or "" = read from the tags).
    :param duration: seconds if the caller knows it, else None.
    :param source/source_id: who calls and its own id for the track (e.g. "hls-transcode",
        the upload's uuid); ingesting the same pair again updates that track, it never
        duplicates it.
    Returns the collection track id (`tr-...`) from the plugin that stored it; a notification
    for everyone else.
    """


@hookspec
def collection_remove(source, source_id):
    """The caller deleted its upload `source_id`: the collection forgets that track.

    Users' history and playlists keep the id; the track just stops being playable.
    Returns the number of tracks removed.
    """
