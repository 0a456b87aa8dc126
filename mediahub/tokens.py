"""Opaque credentials kept only as sha256: bearer access tokens, rotating refresh tokens, cookie sessions."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from mediahub import signin_cache
from mediahub.config import AuthSettings
from mediahub.errors import Unauthorized
from mediahub.models import AuthToken, User, WebSession

ACCESS = "access"
REFRESH = "refresh"
# Longer secrets are not ours: refuse them before hashing anything.
MAX_SECRET_LENGTH = 256


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_secret() -> str:
    """256 random bits, URL-safe: the value a client holds and we never store."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def usable_secret(secret: object) -> str | None:
    if not isinstance(secret, str):
        return None
    secret = secret.strip()
    if not secret or len(secret) > MAX_SECRET_LENGTH:
        return None
    return secret


def user_json(user: User) -> dict:
    """The public view of an account, as /api/auth/me and every token response show it."""
    return {
        "id": str(user.id),
        "username": user.username,
        "display_name": user.display_name or user.username,
        "is_guest": user.is_guest,
        "is_admin": user.is_admin,
        "created_at": user.created_at.isoformat() if user.created_at else None,
    }


# -- bearer + refresh tokens ------------------------------------------------------------


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    user: User

    def to_json(self) -> dict:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_expires_in": self.refresh_expires_in,
            "user": user_json(self.user),
        }


async def issue_pair(user: User, auth: AuthSettings, *, family: str | None = None,
                     now: datetime | None = None) -> TokenPair:
    """A new access + refresh token; a sign-in starts a family, a refresh continues one."""
    now = now or utcnow()
    family = family or str(uuid.uuid4())
    access, refresh = new_secret(), new_secret()
    await AuthToken.create(token_hash=digest(access), kind=ACCESS, family=family, user=user,
                           expires_at=now + timedelta(seconds=auth.access_token_ttl))
    await AuthToken.create(token_hash=digest(refresh), kind=REFRESH, family=family, user=user,
                           expires_at=now + timedelta(seconds=auth.refresh_token_ttl))
    return TokenPair(access, refresh, auth.access_token_ttl, auth.refresh_token_ttl, user)


async def access_token(secret: object, now: datetime | None = None) -> AuthToken | None:
    """The live access token for `secret` (its user loaded), or None.

    Remembered for a few seconds once found (mediahub.signin_cache); `now` (tests of
    expiry) always asks the database.
    """
    secret = usable_secret(secret)
    if secret is None:
        return None

    def query(key: str):
        return AuthToken.get_or_none(token_hash=key, kind=ACCESS, revoked=False,
                                     expires_at__gt=now or utcnow()).select_related("user")

    return await _cached_lookup(signin_cache.ACCESS, digest(secret), now, query)


async def _cached_lookup(kind: str, key: str, now: datetime | None, query):
    """query(key) through the running app's sign-in cache (`now` given: the database only)."""
    cache = signin_cache.current_cache() if now is None else None
    if cache is None:
        return await query(key)
    found = cache.lookup(kind, key)
    if found is not None:
        return found
    generation = cache.generation
    found = await query(key)
    if found is not None:
        cache.store(kind, key, found, generation)
    return found


async def user_for_access_token(secret: object, now: datetime | None = None) -> User | None:
    token = await access_token(secret, now)
    return token.user if token else None


async def rotate_refresh_token(secret: object, auth: AuthSettings,
                               now: datetime | None = None) -> TokenPair:
    """Spend a refresh token for a new pair in the same family.

    A refresh token is good once. Seeing one again means two parties hold it (it was
    stolen, or leaked from a client): the whole family is revoked, so the thief and
    the victim must both sign in again, and only the victim can.
    """
    now = now or utcnow()
    secret = usable_secret(secret)
    token = None
    if secret is not None:
        token = await AuthToken.get_or_none(token_hash=digest(secret), kind=REFRESH)
    if token is None or token.revoked or token.expires_at <= now:
        raise Unauthorized("refresh token is invalid or expired", code="invalid_refresh_token")
    if token.used_at is not None:
        await revoke_family(token.family)
        raise Unauthorized("refresh token was already used; sign in again",
                           code="refresh_token_reused")
    # Conditional update: of two concurrent refreshes with the same token, only one wins.
    claimed = await AuthToken.filter(id=token.id, used_at=None, revoked=False).update(used_at=now)
    if not claimed:
        await revoke_family(token.family)
        raise Unauthorized("refresh token was already used; sign in again",
                           code="refresh_token_reused")
    user = await User.get_or_none(id=token.user_id)
    if user is None:
        raise Unauthorized("refresh token is invalid or expired", code="invalid_refresh_token")
    await User.filter(id=user.id).update(last_seen_at=now)
    return await issue_pair(user, auth, family=token.family, now=now)


async def revoke_family(family: str) -> None:
    await revoke_families({family})


async def revoke_families(families: set[str]) -> None:
    """Revoke every token of these families, then forget them on every instance."""
    if not families:
        return
    await AuthToken.filter(family__in=sorted(families)).update(revoked=True)
    await signin_cache.forget_everywhere(families=families)


async def revoke_tokens(*secrets_: object) -> int:
    """Revoke the families of the given access/refresh tokens; returns how many were found."""
    families = set()
    for secret in secrets_:
        secret = usable_secret(secret)
        if secret is None:
            continue
        token = await AuthToken.get_or_none(token_hash=digest(secret))
        if token is not None:
            families.add(token.family)
    await revoke_families(families)
    return len(families)


async def revoke_user(user_id: object) -> None:
    """Sign a user out everywhere: every token revoked, every browser session closed (for a
    changed password, a blocked or deleted account), on every instance at once."""
    await AuthToken.filter(user_id=user_id).update(revoked=True)
    await WebSession.filter(user_id=user_id).delete()
    await signin_cache.forget_everywhere(users=[str(user_id)])


# -- cookie sessions ----------------------------------------------------------------------


async def open_web_session(user: User, ttl: int, now: datetime | None = None) -> tuple[str, WebSession]:
    """(cookie value, session row); the row keeps only the cookie's hash."""
    now = now or utcnow()
    cookie = new_secret()
    session = await WebSession.create(session_hash=digest(cookie), csrf_token=new_secret(),
                                      user=user, expires_at=now + timedelta(seconds=ttl))
    await User.filter(id=user.id).update(last_seen_at=now)
    return cookie, session


async def web_session_for(cookie: object, now: datetime | None = None) -> WebSession | None:
    """The live session of this cookie (its user loaded), or None; remembered like tokens."""
    cookie = usable_secret(cookie)
    if cookie is None:
        return None

    def query(key: str):
        return WebSession.get_or_none(session_hash=key,
                                      expires_at__gt=now or utcnow()).select_related("user")

    return await _cached_lookup(signin_cache.SESSION, digest(cookie), now, query)


async def close_web_session(cookie: object) -> None:
    cookie = usable_secret(cookie)
    if cookie is not None:
        await WebSession.filter(session_hash=digest(cookie)).delete()
        await signin_cache.forget_everywhere(digests=[digest(cookie)])


async def purge_expired(now: datetime | float | None = None) -> dict[str, int]:
    """Delete expired tokens and sessions (for the periodic sweep); returns the counts.

    `now` may be the sweep's Unix timestamp.
    """
    if isinstance(now, (int, float)):
        now = datetime.fromtimestamp(now, timezone.utc)
    now = now or utcnow()
    tokens = await AuthToken.filter(expires_at__lte=now).delete()
    sessions = await WebSession.filter(expires_at__lte=now).delete()
    return {"auth_tokens": tokens, "web_sessions": sessions}
