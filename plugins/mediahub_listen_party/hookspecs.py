"""The hooks listen-party owns: where a party's tracks come from, and what happens as a party plays.

Other plugins implement these with ``@hookimpl(optionalhook=True)`` (so they still load
when listen-party is disabled) and never import this package. ``user`` is a
``mediahub.User``; ``session_id`` is the party's id (the ``sessionId`` of its API). Any
implementation may be ``async def``.

A track source is a name (``"upload-track"``, ``"temp-upload"``, ``"library"``, ...): a
host (or a member queueing a track) picks ``(source, trackId)``; the plugin owning that
source answers ``party_track_resolve`` with the server's own description of it, never
what the client claimed. Each plugin answers only for the sources it owns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediahub import hookspec

if TYPE_CHECKING:
    from mediahub import User


# --------------------------------------------------------------------------------------
# Track sources
# --------------------------------------------------------------------------------------


@hookspec
def party_track_sources(user: User | None) -> list[dict] | None:
    """Offer track sources in the party's picker.

    Called when a party page renders, for the viewer.

    :return: ``[{"source": "library", "label": "From your library", "picker": "list"}]``;
        ``picker`` is ``"list"`` (a searchable list filled by ``party_track_search``) or
        ``"upload"`` (the plugin's own upload form on the party page); an optional
        ``"scripts": [url]`` lists scripts every member's page needs to play this
        source's tracks (hls-transcode's hls.js). Answer for guests too.
    """


@hookspec(firstresult=True)
def party_track_resolve(source: str, track_id: str, session_id: str, user: User) -> dict | None:
    """Describe the track ``user`` chose, if ``source`` is yours and ``user`` may play it.

    ``firstresult``: the first non-None answer is used and later plugins are not asked.

    :param user: the member choosing it (the host selecting, or a member queueing).
    :return: None when the source is not yours, the track does not exist, or ``user``
        may not use it; else ``{"trackId": str, "title": str, "durationSec": float |
        None, "url": str, "refresh": str | None, "media_id": str | None}`` plus any
        keys of your own (kept verbatim, seen again by ``track_changed``). ``url`` is
        where members' browsers fetch it (site-relative or absolute, Range-capable; an
        ``.m3u8`` URL plays through hls.js) and must stay valid for the party's life
        unless ``refresh`` names a file (``"master.m3u8"``): members then get the
        party's stable link ``/api/parties/<code>/<source>/<trackId>/<refresh>``, which
        redirects to a fresh ``party_track_url`` each time. ``media_id`` is a ledger row
        that belongs to this session only (deleted when the track is left), else None.
    """


@hookspec(firstresult=True)
def party_track_url(source: str, track_id: str) -> str | None:
    """A fresh URL for a track a party resolved with ``refresh`` set.

    ``firstresult``. The party has already checked that the caller is a member and that
    the party plays this track. :return: the URL, or None if the track is gone.
    """


@hookspec
def party_track_search(source: str | None, user: User, query: str, limit: int) -> list[dict] | None:
    """Tracks ``user`` may pick from your sources, for a picker.

    :param source: one source name, or None for every source you own.
    :param query: what the user typed; ``""`` lists everything, newest first.
    :return: at most ``limit`` of ``{"source", "trackId", "title", "durationSec"}``,
        best match first.
    """


# --------------------------------------------------------------------------------------
# Parties for other plugins
# --------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def party_service() -> Any:
    """Parties for a plugin that speaks another protocol (subsonic-api's party extension).

    ``firstresult``; answered by listen-party itself, None when it is disabled. An object
    with async methods taking the acting ``user``: ``parties(user)`` (the live parties they
    host or joined, newest first, at most 50), ``state(user, code, ip=None)`` (``NotFound`` for an
    unknown or ended code, counted against the join-code guessing limit of ``ip`` and the
    account; ``Forbidden`` unless ``user`` joined) and ``join(user, code, ip=None,
    display_name=None)``. Each returns the party's public state: ``code``, ``name``,
    ``url``, ``sessionId``, ``role``, ``hostName``, ``memberCount``, ``version``,
    ``playing``, ``positionSec`` (at ``serverTime``, Unix ms), ``startsAt`` (a scheduled
    start still ahead, else None), ``track`` (``source``, ``trackId``, ``title``,
    ``durationSec``, ``artist``, ``album``, ``entryId``, ``addedByName``, ``url``: a fresh
    playable URL) or None, and ``queue`` (the same entries without ``url``).
    """


# --------------------------------------------------------------------------------------
# A party playing
# --------------------------------------------------------------------------------------


@hookspec
def session_host_changed(session_id: str, host_id: str) -> None:
    """A party's host is (again) ``host_id``: the party started, the role moved, or a
    track is about to be resolved (it may repeat).

    cloudinary-temp uses it so that the host may delete the session's temporary uploads.
    A notification; failures are logged.
    """


@hookspec
def track_changed(session_id: str, previous: dict | None, current: dict | None) -> None:
    """A listening session moved from one track to another.

    :param session_id: the session (party) id.
    :param previous: the track that stopped playing (its ``party_track_resolve``
        description plus ``"source"``) or None.
    :param current: the track now selected, or None.

    A notification; failures are logged.
    """


@hookspec
def session_ended(session_id: str, reason: str) -> None:
    """A listening session ended (``reason``: ``"host_ended"``, ``"idle"``, ``"expired"``).

    Delete what belongs only to that session. A notification; failures are logged.
    """
