"""App passwords: created, listed, revoked by their owner; found by an app's credentials."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from hashlib import md5

from mediahub import BadRequest, NotFound, User, current_host

from mediahub_subsonic_api.models import AppPassword
from mediahub_subsonic_api.sealing import SealBroken, lookup_hash, open_sealed, seal

MAX_PER_USER = 50
NAME_MAX = 64
# Phones are typed on: lowercase letters and digits without look-alikes, in groups.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUPS, GROUP_LENGTH = 5, 4  # 20 characters from 31: about 99 bits
# Recording every request's use would write to the database on each cover and stream.
LAST_USE_RESOLUTION = timedelta(seconds=60)


def new_password() -> str:
    groups = ("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS))
    return "-".join(groups)


def clean_name(name: object) -> str:
    if not isinstance(name, str):
        raise BadRequest("give the app password a name", code="invalid_name")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise BadRequest("give the app password a name", code="invalid_name")
    if len(cleaned) > NAME_MAX or any(ord(ch) < 32 or ch == "\x7f" for ch in cleaned):
        raise BadRequest(f"the name must be at most {NAME_MAX} printable characters",
                         code="invalid_name")
    return cleaned


async def create(user: User, name: object) -> tuple[AppPassword, str]:
    """A new app password for `user`: (its row, the clear password to show once)."""
    cleaned = clean_name(name)
    if await AppPassword.filter(user=user).count() >= MAX_PER_USER:
        raise BadRequest(f"at most {MAX_PER_USER} app passwords; revoke one first",
                         code="too_many_app_passwords")
    secret = current_host().secret_key
    password = new_password()
    row = await AppPassword.create(user=user, name=cleaned, sealed=seal(secret, password),
                                   lookup_hash=lookup_hash(secret, password))
    return row, password


async def listed(user: User) -> list[AppPassword]:
    return await AppPassword.filter(user=user).order_by("-created_at", "-id")


async def revoke(user: User, password_id: int) -> None:
    # Ownership is part of the query: another account's id is simply not found. So is an id
    # past a 64-bit integer (the database would refuse the query itself).
    if password_id >= 2**63:
        raise NotFound("no such app password", code="app_password_not_found")
    deleted = await AppPassword.filter(id=password_id, user=user).delete()
    if not deleted:
        raise NotFound("no such app password", code="app_password_not_found")


@dataclass
class Opened:
    row: AppPassword
    password: str


async def opened_for(user: User) -> list[Opened]:
    """The user's app passwords in the clear (those sealed with another secret left out)."""
    secret = current_host().secret_key
    result = []
    for row in await AppPassword.filter(user=user):
        try:
            result.append(Opened(row, open_sealed(secret, row.sealed)))
        except SealBroken:
            continue
    return result


def matching_password(candidates: list[Opened], password: str) -> Opened | None:
    for candidate in candidates:
        if hmac.compare_digest(candidate.password.encode(), password.encode()):
            return candidate
    return None


def matching_token(candidates: list[Opened], token: str, salt: str) -> Opened | None:
    """The app password whose md5(password + salt) is `token` (Subsonic token auth)."""
    wanted = token.strip().lower().encode()
    for candidate in candidates:
        digest = md5((candidate.password + salt).encode("utf-8")).hexdigest().encode()
        if hmac.compare_digest(digest, wanted):
            return candidate
    return None


async def by_api_key(api_key: str) -> AppPassword | None:
    secret = current_host().secret_key
    row = await AppPassword.get_or_none(lookup_hash=lookup_hash(secret, api_key)).prefetch_related("user")
    if row is None:
        return None
    try:
        clear = open_sealed(secret, row.sealed)
    except SealBroken:
        return None
    return row if hmac.compare_digest(clear.encode(), api_key.encode()) else None


async def note_use(row: AppPassword, client: str | None) -> None:
    now = datetime.now(timezone.utc)
    client = (client or "")[:64] or None
    if (row.last_used_at is not None and now - row.last_used_at < LAST_USE_RESOLUTION
            and row.last_client == client):
        return
    await AppPassword.filter(id=row.id).update(last_used_at=now, last_client=client)
