"""The hooks music-library owns: the collection for other plugins, and uploads joining it.

Implemented by music-library alone; other plugins call them without importing this
package: ``catalog = await first_result("music_catalog")``, and hls-transcode
``await first_result("collection_ingest", media=..., user=..., info=...)`` after an
upload is processed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediahub import hookspec

if TYPE_CHECKING:
    from mediahub import MediaObject, User


@hookspec(firstresult=True)
def music_catalog() -> Any:
    """The collection: an object with the async methods of docs/music-library.md.

    ``firstresult``. None when music-library is disabled. Every method takes the viewing
    ``user`` (per-folder access and upload visibility apply) and returns dataclasses
    (``Track``, ``Album``, ``Artist``, ``Genre``, ``Folder``, ``SearchResult``) whose
    attributes are the snake_case names of the JSON API's keys; a missing or invisible id
    is None (single) or left out (lists).
    """



@hookspec(firstresult=True)
def collection_ingest(media: MediaObject, user: User, info: dict) -> str | None:
    """An uploaded audio file joins ``user``'s collection (visible to them until shared).

    ``firstresult``. The bytes stay where the uploading plugin stored them.

    :param media: the upload's stored ledger row (it owns the bytes; deleting it removes
        the track from the collection at the next sweep).
    :param info: ``source`` and ``source_id`` (the caller's name and id of the upload: a
        second call updates the same track), ``key`` (the audio object's key in
        ``media.backend``, when it is not ``media.key``), optional ``path`` (a local copy
        readable during the call, saves a download), ``title``, ``artist``, ``album``
        (used where the file has no tags).
    :return: the collection's track id (``tr-…``), or None if the file is not audio.
    """
