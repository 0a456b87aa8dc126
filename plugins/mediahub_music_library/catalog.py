"""The collection as other plugins and the JSON API see it: `music_catalog()`'s methods.

Every method takes the viewing user; what they may see (visibility.Viewer) is part of each
query, so counts (an album's songs, an artist's albums) are counts of what they see.
Each list is one raw SQL statement (the page's ids picked by a subquery, their columns and
counts read around it), its rows made into shapes by rows.py: no ORM objects.
"""

from __future__ import annotations

from mediahub import BadRequest
from mediahub_music_library.models import MusicTrack
from mediahub_music_library.queries import fetch, matches, page, paged, track_page
from mediahub_music_library.rows import (ALBUM_COLUMNS, ARTIST_COLUMNS, TRACK_COLUMNS,
                                         album_from_row, artist_from_row, track_from_row)
from mediahub_music_library.shapes import Album, Artist, Folder, Genre, SearchResult, Track
from mediahub_music_library.visibility import Viewer, configured_folders, folder_allows, viewer_for

ALBUM_LIST_TYPES = ("newest", "random", "alphabeticalByName", "alphabeticalByArtist", "byYear",
                    "byGenre")
TRACK_ORDER = "COALESCE(t.disc_no, 1), COALESCE(t.track_no, 0), t.sort_title, t.id"
MAX_IDS = 500  # ids asked for at once (a queue restored from library-sync)


class Catalog:
    """Stateless: configuration and rows are read per call, so one instance serves every app."""

    # -- folders and artists ---------------------------------------------------------------

    async def folders(self, user) -> list[Folder]:
        return [Folder(row.id, row.name) for row, settings in await configured_folders()
                if folder_allows(settings, user)]

    async def artists(self, user, folder_id: int | None = None) -> list[Artist]:
        viewer = await viewer_for(user)
        return await self._artists(viewer, folder_id=folder_id)

    async def artist(self, user, artist_id: str) -> Artist | None:
        found = await self._artists(await viewer_for(user), artist_id=artist_id)
        return found[0] if found else None

    async def _artists(self, viewer: Viewer, *, folder_id=None, artist_id=None, query=None,
                       limit=None, offset=0) -> list[Artist]:
        """Artists credited on a visible track (its artists, its album's artist), with how many
        visible albums each is on: one statement, the page chosen first, its counts after."""
        visible, params = viewer.clause("t")
        if folder_id is not None:
            visible += " AND t.folder_id = ?"
            params = params + [folder_id]
        # Is one of the artist's tracks or albums visible: scalar subqueries stopping at the
        # first, not EXISTS, which PostgreSQL may turn into one hash of every visible track of
        # every artist (85 ms for the prefix "si" on 50,000 tracks, against 1.3 ms).
        where, where_params = [
            "COALESCE((SELECT 1 FROM music_track_artists l JOIN music_tracks t ON t.id = l.track_id"
            f" WHERE l.artist_id = ar.id AND {visible} LIMIT 1), (SELECT 1 FROM music_albums a"
            f" JOIN music_tracks t ON t.album_id = a.id WHERE a.artist_id = ar.id AND {visible}"
            " LIMIT 1)) IS NOT NULL"], params + params
        if artist_id is not None:
            where.append("ar.id = ?")
            where_params.append(artist_id)
        if query is not None:
            match, match_params = matches("music_artists", "ar", query)
            where.append(match)
            where_params += match_params
        order = "ar.sort_name, ar.id"
        where, where_params = paged("ar.id", "music_artists ar", " AND ".join(where), where_params,
                                    order, limit, offset)
        rows = await fetch(
            f"SELECT {ARTIST_COLUMNS}, (SELECT COUNT(DISTINCT c.album_id) FROM ("
            " SELECT t.album_id FROM music_track_artists l JOIN music_tracks t ON t.id = l.track_id"
            f" WHERE l.artist_id = ar.id AND {visible} UNION ALL SELECT t.album_id FROM music_albums a"
            f" JOIN music_tracks t ON t.album_id = a.id WHERE a.artist_id = ar.id AND {visible}) c)"
            f" AS album_count FROM music_artists ar WHERE {where} ORDER BY {order}",
            params + params + where_params)
        return [artist_from_row(row) for row in rows]

    # -- albums ----------------------------------------------------------------------------

    async def _albums(self, viewer: Viewer, *, where: str = "1 = 1", where_params=(),
                      order: str = "a.sort_name, a.id", joins: str = "", limit=None,
                      offset=0) -> list[Album]:
        """Albums with at least one visible track, song count and duration of visible tracks.

        One statement: the page is chosen first (walking the sort order's index, an EXISTS
        per album), its counts computed after: a grid page costs its 50 albums, not the
        whole collection.
        """
        visible, params = viewer.clause("t")
        tables = f"music_albums a {joins}"
        where, where_params = paged(
            "a.id", tables, f"{where} AND EXISTS (SELECT 1 FROM music_tracks t WHERE"
            f" t.album_id = a.id AND {visible})", list(where_params) + params, order, limit, offset)
        rows = await fetch(
            f"SELECT {ALBUM_COLUMNS},"
            f" (SELECT COUNT(*) FROM music_tracks t WHERE t.album_id = a.id AND {visible}) AS song_count,"
            f" (SELECT SUM(t.duration) FROM music_tracks t WHERE t.album_id = a.id AND {visible})"
            f" AS duration FROM {tables} WHERE {where} ORDER BY {order}",
            params + params + where_params)
        return [album_from_row(row) for row in rows]

    async def album(self, user, album_id: str) -> Album | None:
        found = await self._albums(await viewer_for(user), where="a.id = ?", where_params=[album_id])
        return found[0] if found else None

    async def albums(self, user, ids: list[str]) -> list[Album]:
        """The visible albums among `ids`, in the order given (unknown ones left out)."""
        ids = list(dict.fromkeys(ids))[:MAX_IDS]
        if not ids:
            return []
        found = await self._albums(await viewer_for(user),
                                   where=f"a.id IN ({', '.join('?' for _ in ids)})", where_params=ids)
        by_id = {album.id: album for album in found}
        return [by_id[album_id] for album_id in ids if album_id in by_id]

    async def artist_albums(self, user, artist_id: str) -> list[Album]:
        """Albums the artist is the album artist of, or plays on (a visible track credits them)."""
        viewer = await viewer_for(user)
        visible, params = viewer.clause("t2")
        where = ("(a.artist_id = ? OR a.id IN (SELECT t2.album_id FROM music_track_artists l"
                 f" JOIN music_tracks t2 ON t2.id = l.track_id WHERE l.artist_id = ? AND {visible}))")
        return await self._albums(viewer, where=where, where_params=[artist_id, artist_id, *params],
                                  order="COALESCE(a.year, 0), a.sort_name, a.id")

    async def album_list(self, user, type: str, size: int = 10, offset: int = 0,
                         genre: str | None = None, from_year: int | None = None,
                         to_year: int | None = None) -> list[Album]:
        """A page of albums by `type` (ALBUM_LIST_TYPES); BadRequest for another type."""
        limit, offset = page(size, offset, default=10)
        viewer = await viewer_for(user)
        where, params, joins = ["1 = 1"], [], ""
        if genre is not None:
            visible, visible_params = viewer.clause("t2")
            where.append("a.id IN (SELECT t2.album_id FROM music_tracks t2 JOIN music_track_genres g"
                         f" ON g.track_id = t2.id WHERE g.genre = ? AND {visible})")
            params += [genre, *visible_params]
        if from_year is not None or to_year is not None:
            low, high = sorted([from_year if from_year is not None else 0,
                                to_year if to_year is not None else 9999])
            where.append("a.year BETWEEN ? AND ?")
            params += [low, high]
        if type == "newest":
            order = "a.created_at DESC, a.id"
        elif type == "random":
            order = "RANDOM()"
        elif type == "alphabeticalByName":
            order = "a.sort_name, a.id"
        elif type == "alphabeticalByArtist":
            joins = "JOIN music_artists ar ON ar.id = a.artist_id"
            order = "ar.sort_name, a.sort_name, a.id"
        elif type == "byYear":
            # Subsonic's rule: fromYear after toYear lists the years backwards.
            backwards = from_year is not None and to_year is not None and from_year > to_year
            order = f"COALESCE(a.year, 0) {'DESC' if backwards else 'ASC'}, a.sort_name, a.id"
        elif type == "byGenre":
            if genre is None:
                raise BadRequest("type byGenre needs a genre", code="invalid_request")
            order = "a.sort_name, a.id"
        else:
            raise BadRequest(f"type: one of {', '.join(ALBUM_LIST_TYPES)}", code="invalid_request")
        return await self._albums(viewer, where=" AND ".join(where), where_params=params,
                                  order=order, joins=joins, limit=limit, offset=offset)

    # -- tracks ----------------------------------------------------------------------------

    async def _tracks(self, viewer: Viewer, *, where: str = "1 = 1", where_params=(),
                      order: str = TRACK_ORDER, limit=None, offset=0) -> list[Track]:
        """Visible tracks with their album's columns, in `order`: one statement, the page's
        ids picked first (walking the order's index when it can), the rows read for them."""
        visible, params = viewer.clause("t")
        where, params = paged("t.id", "music_tracks t", f"{visible} AND {where}",
                              params + list(where_params), order, limit, offset)
        rows = await fetch(f"SELECT {TRACK_COLUMNS} FROM music_tracks t JOIN music_albums a"
                           f" ON a.id = t.album_id WHERE {where} ORDER BY {order}", params)
        return [track_from_row(row, viewer.user_id) for row in rows]

    async def album_tracks(self, user, album_id: str) -> list[Track]:
        """The album's visible tracks in disc and track order."""
        viewer = await viewer_for(user)
        return await self._tracks(viewer, where="t.album_id = ?", where_params=[album_id])

    async def track(self, user, track_id: str) -> Track | None:
        found = await self.tracks(user, [track_id])
        return found[0] if found else None

    async def tracks(self, user, ids: list[str]) -> list[Track]:
        """The visible tracks among `ids`, in the order given (unknown or invisible left out)."""
        ids = [i for i in dict.fromkeys(ids) if isinstance(i, str)][:MAX_IDS]
        if not ids:
            return []
        found = await self._tracks(await viewer_for(user), where=f"t.id IN ({', '.join('?' for _ in ids)})",
                                   where_params=ids, order="t.id")
        by_id = {track.id: track for track in found}
        return [by_id[track_id] for track_id in ids if track_id in by_id]

    async def random_tracks(self, user, size: int = 10, genre: str | None = None,
                            from_year: int | None = None, to_year: int | None = None) -> list[Track]:
        limit, _ = page(size, 0, default=10)
        viewer = await viewer_for(user)
        where, params = ["1 = 1"], []
        if genre is not None:
            where.append("t.id IN (SELECT g.track_id FROM music_track_genres g WHERE g.genre = ?)")
            params.append(genre)
        if from_year is not None or to_year is not None:
            low, high = sorted([from_year if from_year is not None else 0,
                                to_year if to_year is not None else 9999])
            where.append("t.year BETWEEN ? AND ?")
            params += [low, high]
        return await self._tracks(viewer, where=" AND ".join(where), where_params=params,
                                  order="RANDOM()", limit=limit)

    async def newest_tracks(self, user, size: int = 10, offset: int = 0) -> list[Track]:
        """The most recently added visible tracks first (a party picker's empty search)."""
        limit, offset = page(size, offset, default=10)
        viewer = await viewer_for(user)
        return await self._tracks(viewer, order="t.created_at DESC, t.id", limit=limit, offset=offset)

    async def genres(self, user) -> list[Genre]:
        viewer = await viewer_for(user)
        visible, params = viewer.clause("t")
        rows = await fetch(
            "SELECT g.genre AS name, COUNT(DISTINCT t.id) AS songs, COUNT(DISTINCT t.album_id) AS albums"
            f" FROM music_track_genres g JOIN music_tracks t ON t.id = g.track_id WHERE {visible}"
            " GROUP BY g.genre ORDER BY g.genre", params)
        return [Genre(row["name"], row["songs"], row["albums"]) for row in rows]

    async def tracks_by_genre(self, user, genre: str, size: int = 10, offset: int = 0) -> list[Track]:
        limit, offset = page(size, offset, default=10)
        viewer = await viewer_for(user)
        return await self._tracks(
            viewer, where="t.id IN (SELECT g.track_id FROM music_track_genres g WHERE g.genre = ?)",
            where_params=[genre], order="t.sort_title, t.id", limit=limit, offset=offset)

    async def lyrics(self, user, track_id: str) -> str | None:
        track = await MusicTrack.get_or_none(id=track_id)
        if track is None or not (await viewer_for(user)).sees_track(track):
            return None
        return track.lyrics

    # -- search ----------------------------------------------------------------------------

    async def search(self, user, query: str, artist_count: int = 20, artist_offset: int = 0,
                     album_count: int = 20, album_offset: int = 0, song_count: int = 20,
                     song_offset: int = 0) -> SearchResult:
        """Every word of `query` is a prefix, accents and case ignored; "" pages through everything."""
        viewer = await viewer_for(user)
        query = query or ""
        result = SearchResult()
        limit, offset = page(artist_count, artist_offset, default=20)
        if limit:
            result.artists = await self._artists(viewer, query=query, limit=limit, offset=offset)
        limit, offset = page(album_count, album_offset, default=20)
        if limit:
            match, params = matches("music_albums", "a", query)
            result.albums = await self._albums(viewer, where=match, where_params=params, limit=limit, offset=offset)
        limit, offset = page(song_count, song_offset, default=20)
        if limit:
            where, params = await track_page(*viewer.clause("t"), query, limit, offset)
            result.tracks = await self._tracks(viewer, where=where, where_params=params,
                                               order="t.sort_title, t.id")
        return result

    # -- media (streaming.py and covers.py serve the bytes) -----------------------------------

    async def stream_response(self, user, track_id: str, format: str | None = None,
                              max_bitrate: int | None = None, time_offset: float = 0):
        from mediahub_music_library.streaming import stream_response

        return await stream_response(user, track_id, format, max_bitrate, time_offset)

    async def cover_response(self, cover_id: str, size: int | None = None):
        from mediahub_music_library.covers import cover_response

        return await cover_response(cover_id, size)
