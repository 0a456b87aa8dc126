"""The library API (seed 002's paths) and the /library page."""

from __future__ import annotations

import time

from pydantic import ValidationError
from quart import Blueprint, Response, render_template, request
from quart_schema import document_request, document_response, security_scheme, validate_querystring

from mediahub import (BadRequest, current_sign_in, current_user, first_result, html_page,
                      limit_request_body, require_user)
from mediahub_library_sync import store
from mediahub_library_sync.collection_names import collection_tracks, wanted_ids
from mediahub_library_sync.gcpause import collector_paused
from mediahub_library_sync.merge import LimitExceeded
from mediahub_library_sync.schemas import (CollectionTracks, CollectionTracksQuery,
                                           FavoritesPut, HistoryPut, Library, PlaylistsPut,
                                           PreferencesPut, QueuePut, RecentSearchesPut,
                                           SessionPing, SessionStatus, SyncRequest, adapter,
                                           describe_errors)
from mediahub_library_sync.validation import InvalidRequest, parse_request

blueprint = Blueprint("library", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/static/library")

BEARER = [{"bearer": []}]


async def read_raw() -> bytes:
    """The raw body, under this plugin's own size cap.

    The app caps bodies at 1 MiB; a full sync of a large library is several MB, so the
    cap is raised here, for these routes only, before anything is read.
    """
    limit = store.settings().max_body_bytes
    limit_request_body(request, limit)
    raw = await request.get_data(cache=False)
    if not raw.strip():
        raise BadRequest("body: a JSON object is required", code="invalid_request")
    return raw


async def read_body(shape: type) -> dict:
    """A small JSON body validated as `shape` by pydantic; every problem names its field."""
    try:
        return adapter(shape).validate_json(await read_raw())
    except ValidationError as exc:
        raise BadRequest(describe_errors(exc), code="invalid_request") from None


def library_response(body: bytes) -> Response:
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


async def signed_in_user_id():
    return (await current_user()).id


async def merge_and_answer(shape: type) -> Response:
    """Read a library write, merge it and answer with the whole library.

    The envelope is checked first, the items once the stored library is read (validation).
    """
    raw = await read_raw()
    user_id = await signed_in_user_id()
    try:
        with collector_paused():  # see gcpause: the request's objects never reach the collector
            body, _ = await store.sync(user_id, parse_request(raw, shape), time.time(),
                                       sign_in=await current_sign_in())
    except InvalidRequest as exc:
        raise BadRequest(str(exc), code="invalid_request") from None
    except LimitExceeded as exc:
        raise BadRequest(str(exc), code="library_limit") from None
    return library_response(body)


@blueprint.post("/api/me/library/sync")
@security_scheme(BEARER)
@document_request(SyncRequest)
@document_response(Library, 200)
@require_user
async def sync_library() -> Response:
    """Merge this device's library into the server's and return the merged library.

    Send `since` (the `version` of the last answer this device stored); without it the
    server uses the version it last answered to this device (its `device_id`, else its
    sign-in), so an item it was told about and leaves out is deleted everywhere. Sections
    left out are not touched. Local `pl_...`
    playlist ids come back as server ids, with the mapping in `playlist_id_map`. When
    `full_replacement` is true the device must replace its local library with the answer.
    """
    return await merge_and_answer(SyncRequest)


@blueprint.get("/api/me/library")
@security_scheme(BEARER)
@document_response(Library, 200)
@require_user
async def get_library() -> Response:
    """The signed-in user's library, with its current `version`."""
    return library_response(await store.get_library(await signed_in_user_id(),
                                                    await current_sign_in(), time.time()))


def section_route(path: str, shape: type, summary: str):
    async def put_section() -> Response:
        return await merge_and_answer(shape)

    put_section.__name__ = "put_" + path.strip("/").split("/")[-1].replace("-", "_")
    put_section.__doc__ = (f"{summary}\n\nThe device's whole list for this section, merged "
                           "like the same section of a sync; answers with the whole library.")
    view = require_user(put_section)
    view = document_response(Library, 200)(view)
    view = document_request(shape)(view)
    view = security_scheme(BEARER)(view)
    blueprint.put(path)(view)


section_route("/api/me/favorites", FavoritesPut, "Update favorites only.")
section_route("/api/me/history", HistoryPut, "Add plays to the history.")
section_route("/api/me/queue", QueuePut, "Update the playback queue.")
section_route("/api/me/playlists", PlaylistsPut, "Update playlists.")
section_route("/api/me/preferences", PreferencesPut, "Update shuffle / repeat / volume.")
section_route("/api/me/recent-searches", RecentSearchesPut, "Update recent searches.")


@blueprint.post("/api/me/session/ping")
@security_scheme(BEARER)
@document_request(SessionPing)
@document_response(SessionStatus, 200)
@require_user
async def ping_session() -> dict:
    """Say this device (tab) is here; sessions expire after five minutes without a ping."""
    data = await read_body(SessionPing)
    active = await store.ping(await signed_in_user_id(), data["session_id"], time.time())
    return {"active_sessions": active, "multiple_sessions": active > 1}


@blueprint.get("/api/me/library/tracks")
@security_scheme(BEARER)
@validate_querystring(CollectionTracksQuery)
@document_response(CollectionTracks, 200)
@require_user
async def library_collection_tracks(query_args: CollectionTracksQuery) -> dict:
    """Title, artist and album of the collection tracks (`tr-…` ids) among `ids`, for showing a
    library whose items hold only ids; unknown, invisible and other apps' ids are left out."""
    return await collection_tracks(await current_user(), wanted_ids(query_args.ids))


@blueprint.get("/library")
@html_page
@require_user
async def library_page():
    """What follows the person across devices; adding happens where tracks are listed (Music)."""
    music = await first_result("music_catalog") is not None
    return await render_template("library/library.html", music=music)
