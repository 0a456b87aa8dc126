"""The media ledger: a row before the bytes, `stored` after, removed only once the object is gone.

States: pending -> stored -> deleting -> (row removed). The sweep repairs whatever a crash
or a failing backend left behind, and is safe to run in several processes at once: every
row it acts on is first claimed with a conditional UPDATE that only one process can win,
and deleting an object that is already gone is not an error.

A row whose key ends with "/" owns every object under that prefix (an HLS rendition, say):
deleting it deletes the prefix, and the orphan sweep leaves those objects alone.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tortoise.expressions import F

from mediahub.models import MediaObject
from mediahub.datatypes import InvalidKey

if TYPE_CHECKING:
    from mediahub.host import Host
    from mediahub.storage import Storage

log = logging.getLogger("mediahub.ledger")

PENDING, STORED, DELETING = "pending", "stored", "deleting"
SWEEP_BATCH = 500  # rows per state per sweep: a huge backlog drains over several sweeps
ORPHAN_BATCH = 200  # keys checked per query (SQLite caps bound parameters)


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def owning_keys(key: str) -> list[str]:
    """The key itself and every prefix row that would own it: a/b/c -> a/b/c, a/, a/b/."""
    parts = key.split("/")
    return [key] + ["/".join(parts[:depth]) + "/" for depth in range(1, len(parts))]


class Ledger:
    """Bookkeeping of every stored object (the `media_objects` table), and its sweep."""

    def __init__(self, host: Host):
        self.host = host

    async def begin(self, *, backend: str, key: str, purpose: str, content_type: str,
                    owner_id: Any = None, expires_at: datetime | None = None,
                    metadata: dict | None = None) -> MediaObject:
        """Record an object about to be written (state pending), before any byte is."""
        self.host.storage.get(backend)  # an unknown backend fails here, not after the upload
        return await MediaObject.create(
            backend=backend, key=key, state=PENDING, purpose=purpose,
            content_type=content_type, owner_id=owner_id, expires_at=expires_at,
            metadata=metadata or {})

    async def finalise(self, media: MediaObject, *, size: int, sha256: str,
                       content_type: str | None = None) -> MediaObject:
        """The bytes are stored: mark the row stored with its size, hash and sniffed type.

        Raises LookupError if the row is no longer pending (the sweep discarded it after
        orphan_grace); the caller must then treat the upload as failed.
        """
        fields: dict[str, Any] = {"state": STORED, "size": size, "sha256": sha256,
                                  "updated_at": datetime.now(timezone.utc)}
        if content_type:
            fields["content_type"] = content_type
        updated = await MediaObject.filter(id=media.id, state=PENDING).update(**fields)
        if not updated:
            raise LookupError(f"media {media.id} is no longer pending")
        for name, value in fields.items():
            setattr(media, name, value)
        return media

    async def discard(self, media: MediaObject) -> bool:
        """A failed or refused upload: remove the object if any, then the row.

        On a storage failure the row stays `deleting` and the sweep retries it.
        """
        return await self.delete(media)

    async def delete(self, media: MediaObject) -> bool:
        """Mark deleting, delete the object, then the row. False (row kept) if storage failed."""
        await MediaObject.filter(id=media.id).update(
            state=DELETING, updated_at=datetime.now(timezone.utc))
        media.state = DELETING
        return await self._remove(media)

    async def _remove(self, media: MediaObject) -> bool:
        try:
            storage = self.host.storage.get(media.backend)
            if media.key.endswith("/"):
                await storage.delete_prefix(media.key)
            else:
                await storage.delete(media.key)
        except InvalidKey:
            pass  # no object can exist under an unusable key: only the row is left to go
        except Exception as exc:
            log.warning("could not delete %s:%s (%r); the sweep will retry",
                        media.backend, media.key, exc)
            media.last_error = repr(exc)[:2000]
            media.attempts = (media.attempts or 0) + 1
            await MediaObject.filter(id=media.id).update(
                attempts=F("attempts") + 1, last_error=media.last_error,
                updated_at=datetime.now(timezone.utc))
            return False
        await MediaObject.filter(id=media.id).delete()
        return True

    async def get(self, media_id: Any) -> MediaObject | None:
        try:
            media_id = uuid.UUID(str(media_id))
        except ValueError:
            return None
        return await MediaObject.get_or_none(id=media_id)

    # -- the sweep ---------------------------------------------------------------------

    async def sweep(self, now: float) -> dict[str, int]:
        """Retry stuck deletes, discard stale pending rows and expired objects, remove
        objects that have no row; each step isolated so one failure does not stop the rest."""
        grace = self.host.settings.server.orphan_grace
        counts = {"ledger_deletes_retried": 0, "ledger_pending_discarded": 0,
                  "ledger_expired_deleted": 0, "orphans_removed": 0, "temp_files_removed": 0}
        steps = [
            ("ledger_deletes_retried", self._retry_deletes()),
            ("ledger_pending_discarded", self._claim_and_remove(
                {"state": PENDING, "updated_at__lt": utc(now - grace)})),
            ("ledger_expired_deleted", self._claim_and_remove(
                {"state": STORED, "expires_at__lt": utc(now)})),
        ]
        for name, step in steps:
            try:
                counts[name] += await step
            except Exception:
                log.exception("sweep step %s failed", name)
        for backend_name, backend in self.host.storage.backends.items():
            try:
                counts["orphans_removed"] += await self._remove_orphans(
                    backend_name, backend, now - grace)
                sweep_temp_files = getattr(backend, "sweep_temp_files", None)
                if sweep_temp_files is not None:
                    counts["temp_files_removed"] += await sweep_temp_files(now - grace)
            except Exception:
                log.exception("sweep of storage backend %s failed", backend_name)
        return counts

    async def _retry_deletes(self) -> int:
        done = 0
        for media in await MediaObject.filter(state=DELETING).order_by("updated_at").limit(SWEEP_BATCH):
            done += await self._remove(media)
        return done

    async def _claim_and_remove(self, conditions: dict[str, Any]) -> int:
        done = 0
        for media in await MediaObject.filter(**conditions).limit(SWEEP_BATCH):
            # Only one sweeping process wins the claim; the others skip the row.
            claimed = await MediaObject.filter(id=media.id, **conditions).update(
                state=DELETING, updated_at=datetime.now(timezone.utc))
            if claimed:
                media.state = DELETING
                done += await self._remove(media)
        return done

    async def _remove_orphans(self, backend_name: str, backend: Storage, older_than: float) -> int:
        removed = 0
        batch: list[str] = []
        async for info in backend.list(""):
            if info.last_modified < older_than:
                batch.append(info.key)
            if len(batch) >= ORPHAN_BATCH:
                removed += await self._remove_unowned(backend_name, backend, batch)
                batch = []
        if batch:
            removed += await self._remove_unowned(backend_name, backend, batch)
        return removed

    async def _remove_unowned(self, backend_name: str, backend: Storage, keys: list[str]) -> int:
        candidates = {owner for key in keys for owner in owning_keys(key)}
        owned = set(await MediaObject.filter(backend=backend_name, key__in=sorted(candidates))
                    .values_list("key", flat=True))
        removed = 0
        for key in keys:
            if not owned.intersection(owning_keys(key)):
                log.info("removing orphan %s:%s (no ledger row)", backend_name, key)
                await backend.delete(key)
                removed += 1
        return removed
