"""Parties as other plugins see them: `party_service()`'s methods (subsonic-api's party extension).

A plugin that speaks another protocol (the Subsonic API) lists a user's parties, reads one's
public state and joins one as the account, with the same rules as the party's own API: a
join code is guarded against guessing, only members read a party, and a track whose URL
expires gets a fresh one from its source on every read.
"""

from __future__ import annotations

from typing import Any

from mediahub import Forbidden
from mediahub_listen_party import party as parties, protocol, sources
from mediahub_listen_party.models import Party, PartyMember

MAX_LISTED = 50
# Keys of a stored track another plugin may see (no ledger ids, no stable-link internals).
TRACK_KEYS = ("source", "trackId", "entryId", "durationSec", "artist", "album", "addedByName")


class PartyService:
    """Every method takes the `mediahub.User` acting; codes are the join codes people type."""

    async def parties(self, user) -> list[dict[str, Any]]:
        """The live parties `user` hosts or joined, newest first (at most 50), as `state` has them."""
        rows = await Party.filter(members__user_id=user.id, ended_at=None) \
            .order_by("-created_at").limit(MAX_LISTED)
        return [await self._public(party, user) for party in rows]

    async def state(self, user, code: str, ip: str | None = None) -> dict[str, Any]:
        """A party's public state; NotFound for an unknown or ended code (guarded against
        guessing like a join), Forbidden unless `user` joined it."""
        party = await parties.find_party_guarded(code, ip, user)
        if not await PartyMember.exists(party_id=party.id, user_id=user.id):
            raise Forbidden("join the party first", code="not_a_member")
        return await self._public(party, user)

    async def join(self, user, code: str, ip: str | None = None,
                   display_name: str | None = None) -> dict[str, Any]:
        """Join `code` as `user` (again is fine) and return its public state."""
        party = await parties.find_party_guarded(code, ip, user)
        name = (display_name or user.display_name or user.username or "Guest").strip()[:64]
        await parties.join(party, user, name)
        return await self._public(party, user)

    async def _public(self, party: Party, user) -> dict[str, Any]:
        state = await parties.settle(party)
        now = parties.now_ms()
        host = await PartyMember.get_or_none(party_id=party.id, user_id=state.host_id)
        track = None if state.finished or state.track is None else await self._track(state.track)
        # A start scheduled a short lead ahead: the position holds until then.
        starts_at = state.anchor_ms if state.playing and state.anchor_ms > now else None
        return {
            "code": party.code, "name": party.name, "url": f"/party/{party.code}",
            "sessionId": str(party.id), "role": protocol.role_of(state, str(user.id)),
            "hostName": host.display_name if host else "", "memberCount":
                await parties.member_count(party), "version": state.version,
            "playing": state.playing and track is not None,
            "positionSec": round(protocol.position_at(state, now), 3) if track else 0.0,
            "serverTime": int(now), "startsAt": int(starts_at) if starts_at else None,
            "track": track,
            "queue": [self._entry(entry) for entry in state.queue],
        }

    @staticmethod
    def _entry(track: dict) -> dict[str, Any]:
        entry = {key: track.get(key) for key in TRACK_KEYS}
        entry["title"] = track.get("filename") or "Untitled"
        return entry

    async def _track(self, track: dict) -> dict[str, Any]:
        entry = self._entry(track)
        # The stable party link needs a browser session; a fresh URL from the source does not.
        entry["url"] = (await sources.fresh_url(track) if track.get("refresh")
                        else track.get("trackUrl"))
        return entry


service = PartyService()
