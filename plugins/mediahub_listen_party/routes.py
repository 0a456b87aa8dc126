"""The party REST API, the seed's upload-track/track endpoints, and the /party pages."""

from __future__ import annotations

import io
import json
import secrets
import time
from urllib.parse import unquote

import segno
from pydantic import BaseModel, Field
from quart import Blueprint, Response, jsonify, redirect, render_template, request
from quart_schema import DataSource, document_request, document_response, security_scheme

from mediahub import (NO_NUL, BadRequest, Forbidden, NotFound, TooManyRequests, create_guest,
                      current_host, current_user, html_page, ingest_multipart, issue_token_pair,
                      json_body, media_response, media_route, optional_body, require_user,
                      start_web_session)
from mediahub_listen_party import clock, party as parties, sources
from mediahub_listen_party.models import PartyMember, PartyTrack
from mediahub_listen_party.protocol import REACTIONS, state_message

blueprint = Blueprint("party", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/party/static")

BEARER = [{"bearer": []}]


class PartyCreate(BaseModel):
    name: str = Field("", max_length=200, pattern=NO_NUL)


class JoinRequest(BaseModel):
    display_name: str = Field("Guest", min_length=1, max_length=64, pattern=NO_NUL)


class PartyState(BaseModel):
    version: int
    playing: bool
    positionSec: float
    serverTimestamp: float
    trackId: str | None
    trackUrl: str | None
    filename: str | None
    hostId: str


class Member(BaseModel):
    memberId: str
    name: str
    online: bool


class PartySummary(BaseModel):
    code: str
    name: str
    url: str
    sessionId: str
    isHost: bool
    state: PartyState


class PartyOut(PartySummary):
    members: list[Member]


class JoinOut(PartySummary):
    """No member list here: when a party starts, hundreds join at once, and a list in every
    answer would read every member row per join. `GET /api/parties/<code>` has it."""

    memberId: str
    memberCount: int
    access_token: str | None = None


class Ended(BaseModel):
    ok: bool
    code: str


class UploadForm(BaseModel):
    audio: str = Field(json_schema_extra={"format": "binary"})
    filename: str | None = Field(None, max_length=255)


class UploadedTrack(BaseModel):
    ok: bool
    trackId: str
    trackUrl: str
    filename: str


class LibraryTrack(BaseModel):
    trackId: str
    title: str
    durationSec: float | None


class LibraryList(BaseModel):
    tracks: list[LibraryTrack]


async def lookup(code: str, user=None):
    """A party by the join code in the URL, behind the guessing limit (`code_limit`)."""
    return await parties.find_party_guarded(code, request.remote_addr, user)


def snapshot_json(state) -> dict:
    message = state_message("SNAPSHOT", state)
    return {k: message[k] for k in PartyState.model_fields}


async def party_json(party, user, with_members: bool = True) -> dict:
    state = parties.state_of(party)
    summary = {"code": party.code, "name": party.name, "url": f"/party/{party.code}",
               "sessionId": str(party.id), "isHost": str(user.id) == state.host_id,
               "state": snapshot_json(state)}
    if with_members:
        summary["members"] = await parties.members(party)
    return summary


@blueprint.post("/api/parties")
@security_scheme(BEARER)
@optional_body
@document_request(PartyCreate)
@document_response(PartyOut, 201)
@require_user
async def create_party():
    """Start a party; the caller is its host. Share `code` or `url` with the guests."""
    body = await json_body(PartyCreate, optional=True)
    user = await current_user()
    party = await parties.create_party(user, body.name.strip())
    return await party_json(party, user), 201


@blueprint.get("/api/parties/<code>")
@security_scheme(BEARER)
@document_response(PartyOut, 200)
@require_user
async def get_party(code: str):
    """A party's current state (versioned snapshot) and members."""
    user = await current_user()
    return await party_json(await lookup(code, user), user)


@blueprint.post("/api/parties/<code>/join")
@security_scheme(BEARER)
@optional_body
@document_request(JoinRequest)
@document_response(JoinOut, 200)
async def join_party(code: str):
    """Join with a display name. Without an account a guest account is made for the caller:
    the browser gets its session cookie, other clients the `access_token` in the answer."""
    user = await current_user()
    party = await lookup(code, user)
    body = await json_body(JoinRequest, optional=True)
    name = body.display_name.strip() or "Guest"
    access_token = None
    if user is None:
        # JSON only: a cross-site form cannot post it, so no site can sign a visitor in.
        if request.mimetype != "application/json":
            raise BadRequest("send a JSON body to join", code="invalid_request")
        user = await create_guest(name)
        pair = await issue_token_pair(user, current_host().settings.auth)
        access_token = pair.to_json()["access_token"]
    member = await parties.join(party, user, name)
    answer = {**await party_json(party, user, with_members=False), "memberId": str(member.user_id),
              "memberCount": await parties.member_count(party), "access_token": access_token}
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    if access_token is not None:
        await start_web_session(response, user)
    return response


@blueprint.post("/api/parties/<code>/end")
@security_scheme(BEARER)
@document_response(Ended, 200)
@require_user
async def end_party(code: str):
    """End the party (host only): every member is told, and `session_ended` fires."""
    user = await current_user()
    party = await lookup(code, user)
    await parties.end_by(party, user)
    return {"ok": True, "code": party.code}


# -- tracks of other plugins' sources (listen-party's hooks) -------------------------------


@blueprint.get("/api/parties/<code>/tracks")
@security_scheme(BEARER)
@document_response(LibraryList, 200)
@require_user
async def source_tracks(code: str):
    """Tracks the caller may pick, from every source or `?source=<name>`, matching `?q=`:
    the host selects one with `HOST_TRACK_SELECTED {source, trackId}`."""
    user = await current_user()
    await lookup(code, user)
    source = request.args.get("source") or None
    if source is not None and not sources.SOURCE_NAME.match(source):
        raise BadRequest("source is a track source name such as \"library\"", code="bad_source")
    query = request.args.get("q", "")[:200]
    return {"tracks": await sources.search(user, source, query)}


@blueprint.get("/api/parties/<code>/library")
@security_scheme(BEARER)
@document_response(LibraryList, 200)
@require_user
async def library(code: str):
    """The caller's library tracks a party can play (hls-transcode, ready ones): the host
    selects one with `HOST_TRACK_SELECTED {source: "library", trackId}`. Empty when the
    library plugin is not enabled."""
    user = await current_user()
    await lookup(code, user)
    return {"tracks": await sources.search(user, "library")}


@blueprint.get("/api/parties/<code>/sources/<source>/<track_id>/<name>")
@security_scheme(BEARER)
@html_page  # documented like a page: a redirect (3XX) or an error, never JSON on success
@require_user
async def refreshed_track(code: str, source: str, track_id: str, name: str):
    """The party's stable link to a track whose URL expires (an HLS library track's
    `master.m3u8`): a redirect to a fresh URL from its source (members only, and only the
    track the party plays)."""
    user = await current_user()
    party = await lookup(code, user)
    state = parties.state_of(party)
    # The playing track, or a queued one (browsers load the next track ahead of its start).
    track = next((t for t in (state.track, *state.queue) if t and (
        t.get("source"), t.get("trackId"), t.get("refresh")) == (source, track_id, name)), None)
    if track is None:
        raise NotFound("the party does not play this track", code="track_not_found")
    if not await PartyMember.exists(party_id=party.id, user_id=user.id):
        raise Forbidden("join the party first", code="not_a_member")
    url = await sources.fresh_url(track)
    if url is None:  # deleted from its source since it was selected
        raise NotFound("this track is no longer available", code="track_not_found")
    response = redirect(url, 302)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/party/<code>/qr.svg")
@media_route  # an image (SVG), not a page
@require_user
async def invite_qr(code: str) -> Response:
    """The party's join link as a QR code (SVG), drawn here: no outside service sees the code."""
    party = await lookup(code, await current_user())
    image = io.BytesIO()
    segno.make(join_url(party.code), error="m").save(image, kind="svg", scale=6, border=2,
                                                     dark="#111", light="#fff", xmldecl=False)
    response = Response(image.getvalue(), content_type="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def join_url(code: str) -> str:
    """The absolute link a guest opens (or scans) to join: the party page on this site."""
    return f"{request.host_url.rstrip('/')}/party/{code}"


# -- the seed's track endpoints ----------------------------------------------------------


@blueprint.post("/api/upload-track")
@security_scheme(BEARER)
@document_request(UploadForm, source=DataSource.FORM_MULTIPART)
@document_response(UploadedTrack, 200)
@require_user
async def upload_track():
    """Upload an audio file (multipart field `audio`) for a party; the type is sniffed from
    its bytes. Answers the seed's `{ok, trackId, trackUrl, filename}`."""
    user = await current_user()
    conf = parties.settings()
    media, fields = await ingest_multipart(request, file_field="audio", purpose="party-track",
                                      user=user, key_prefix="party/",
                                      max_bytes=conf.max_track_bytes)
    filename = clean_filename(fields.get("filename") or header_filename() or "track")
    track = await PartyTrack.create(id=secrets.token_urlsafe(12), media=media, owner=user,
                                    filename=filename, created_at=time.time())
    return {"ok": True, "trackId": track.id, "trackUrl": f"/api/track/{track.id}",
            "filename": track.filename}


def header_filename() -> str:
    # mediahub.uploads does not hand out the file part's own filename: clients send it as
    # the `filename` form field or the URL-encoded `X-Filename` header.
    return unquote(request.headers.get("X-Filename", ""))


def clean_filename(name: str) -> str:
    """A display name only (never a path): no directories, no control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "track"


@blueprint.route("/api/track/<track_id>", methods=["GET", "HEAD"])
@security_scheme(BEARER)
@media_route
@require_user
async def get_track(track_id: str) -> Response:
    """The track's bytes with HTTP Range support (206 / 416 / 304), for its uploader and the
    members of a live party playing or queueing it; anyone else gets the 404 of an unknown id."""
    user = await current_user()
    track = await PartyTrack.get_or_none(id=track_id) if len(track_id) <= 32 else None
    if track is None or not await parties.may_fetch_upload(track, user):
        raise NotFound("no such track", code="track_not_found")
    media = await track.media
    return await media_response(media, user)


# -- pages ---------------------------------------------------------------------------------


@blueprint.get("/party")
@html_page
async def party_home():
    code = request.args.get("code", "")
    if code.strip().isalnum() and len(code.strip()) <= 12:  # the join form without JavaScript
        return redirect(f"/party/{code.strip().upper()}")
    return await render_template("party/home.html",
                                 allow_guests=current_host().settings.auth.allow_guests)


@blueprint.get("/party/<code>")
@html_page
async def party_page(code: str):
    user = await current_user()
    try:
        party = await lookup(code, user)
    except NotFound:
        return await render_template("party/home.html", missing=code[:12]), 404
    except TooManyRequests as exc:
        return (await render_template("party/home.html", limited=True), 429,
                {"Retry-After": exc.headers["Retry-After"]})
    state = parties.state_of(party)
    is_host = user is not None and str(user.id) == state.host_id
    return await render_template("party/party.html", party=party, is_host=is_host,
                                 lead_ms=parties.settings().start_lead_ms,
                                 sources=await sources.offered(user), join_url=join_url(party.code),
                                 reactions=REACTIONS, drift_policy=json.dumps(clock.browser_policy()))
