"""Who sees which tracks: the configured folders a user may see, their own uploads and shared ones."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from mediahub import current_host
from mediahub_music_library.models import MusicFolder


@dataclass(frozen=True)
class Viewer:
    """What one user sees; `clause()` is the SQL condition on a track row for it."""

    user_id: str | None
    folder_ids: tuple[int, ...]
    sees_shared: bool  # signed-in accounts see shared uploads; guests (party-only) do not

    def clause(self, alias: str = "t") -> tuple[str, list]:
        """`(sql, params)`: the track `alias` is present and this viewer may see it."""
        from mediahub_music_library.queries import is_postgres

        # SQLite would drive whole queries from the folder index to satisfy this OR (every
        # track of the folder, then the artist or album asked for); a unary plus keeps an
        # index from being used for it, so lookups go through the selective index instead.
        column = f"{alias}." if is_postgres() else f"+{alias}."
        options, params = [], []
        if self.folder_ids:
            options.append(f"{column}folder_id IN ({', '.join('?' for _ in self.folder_ids)})")
            params += list(self.folder_ids)
        if self.user_id is not None:
            options.append(f"({column}folder_id IS NULL AND {column}owner_id = ?)")
            params.append(self.user_id)
        if self.sees_shared:
            options.append(f"({column}folder_id IS NULL AND {alias}.shared)")
        if not options:
            return "1 = 0", []
        return f"({alias}.present AND ({' OR '.join(options)}))", params

    def sees_folder(self, folder_id: int | None) -> bool:
        return folder_id in self.folder_ids

    def sees_track(self, track) -> bool:
        """The same rule as `clause()`, for a MusicTrack row already loaded."""
        if not track.present:
            return False
        if track.folder_id is not None:
            return track.folder_id in self.folder_ids
        if self.user_id is not None and str(track.owner_id) == self.user_id:
            return True
        return self.sees_shared and track.shared


def folder_allows(folder_settings, user) -> bool:
    """A configured folder's `users` list: None is every account; admins see every folder."""
    if user is None or user.is_guest:
        return False
    if folder_settings.users is None or user.is_admin:
        return True
    return user.username in folder_settings.users


# Folder rows by path, per app: a row is never changed or deleted once made (its id must
# stay stable), so every request need not read them again.
_rows: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def configured_folders() -> list[tuple[MusicFolder, object]]:
    """(row, settings) of every configured folder, creating rows not scanned yet (stable ids)."""
    host = current_host()
    config = host.plugin_config("music_library")
    paths = {folder.path.rstrip("/") or "/": folder for folder in config.folders}
    rows = _rows.setdefault(host, {})
    if any(path not in rows for path in paths):
        rows.update({row.path: row for row in await MusicFolder.filter(path__in=list(paths))})
        for path, settings in paths.items():
            if path not in rows:
                rows[path], _ = await MusicFolder.get_or_create(path=path, defaults={"name": settings.name})
    return [(rows[path], settings) for path, settings in paths.items()]


async def viewer_for(user) -> Viewer:
    folders = await configured_folders()
    visible = tuple(row.id for row, settings in folders if folder_allows(settings, user))
    if user is None:
        return Viewer(None, (), False)
    return Viewer(str(user.id), visible, not user.is_guest)
