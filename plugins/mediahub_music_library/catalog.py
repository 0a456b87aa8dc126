"""The collection as other plugins and the JSON API see it: `music_catalog()`'s methods.

Every method takes the viewing user; what they may see (visibility.Viewer) is part of each
query, so counts (an album's songs, an artist's albums) are counts of what they see.
Lists are found by raw SQL (ids, in order, paged), then loaded as ORM rows.
"""

from __future__ import annotations

from mediahub import BadRequest
from mediahub_music_library.models import MusicAlbum, MusicArtist, MusicTrack
from mediahub_music_library.queries import fetch, matches, page, track_matches
from mediahub_music_library.shapes import Album, Artist, Folder, Genre, SearchResult, Track
from mediahub_music_library.visibility import Viewer, configured_folders, folder_allows, viewer_for

ALBUM_LIST_TYPES = ("newest", "random", "alphabeticalByName", "alphabeticalByArtist", "byYear",
                    "byGenre")
TRACK_ORDER = "COALESCE(t.disc_no, 1), COALESCE(t.track_no, 0), t.sort_title, t.id"
MAX_IDS = 500  # ids asked for at once (a queue restored from library-sync)


def cover_url(cover_id: str | None, size: int = 300) -> str | None:
    return f"/api/music/covers/{cover_id}?size={size}" if cover_id else None


def stream_url(track_id: str) -> str:
    return f"/api/music/tracks/{track_id}/stream"


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
        visible albums each is on. The page is chosen first, its counts computed after."""
        visible, params = viewer.clause("t")
        if folder_id is not None:
            visible += " AND t.folder_id = ?"
            params = params + [folder_id]
        where, where_params = [
            f"(EXISTS (SELECT 1 FROM music_track_artists l JOIN music_tracks t ON t.id = l.track_id"
            f" WHERE l.artist_id = ar.id AND {visible}) OR EXISTS (SELECT 1 FROM music_albums a"
            f" JOIN music_tracks t ON t.album_id = a.id WHERE a.artist_id = ar.id AND {visible}))"],\
            params + params
        if artist_id is not None:
            where.append("ar.id = ?")
            where_params.append(artist_id)
        if query is not None:
            match, match_params = matches("music_artists", "ar", query)
            where.append(match)
            where_params += match_params
        sql = f"SELECT ar.id AS id FROM music_artists ar WHERE {' AND '.join(where)} ORDER BY ar.sort_name, ar.id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            where_params += [limit, offset]
        ids = [row["id"] for row in await fetch(sql, where_params)]
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        counted = await fetch(
            "SELECT c.artist_id AS id, COUNT(DISTINCT c.album_id) AS album_count FROM ("
            " SELECT l.artist_id, t.album_id FROM music_track_artists l"
            f" JOIN music_tracks t ON t.id = l.track_id WHERE l.artist_id IN ({marks}) AND {visible}"
            " UNION ALL SELECT a.artist_id, t.album_id FROM music_albums a"
            f" JOIN music_tracks t ON t.album_id = a.id WHERE a.artist_id IN ({marks}) AND {visible}"
            ") c GROUP BY c.artist_id", ids + params + ids + params)
        counts = {row["id"]: row["album_count"] for row in counted}
        rows = {row.id: row for row in await MusicArtist.filter(id__in=ids)}
        return [artist_shape(rows[i], counts.get(i, 0)) for i in ids if i in rows]

    # -- albums ----------------------------------------------------------------------------

    async def _albums(self, viewer: Viewer, *, where: str = "1 = 1", where_params=(),
                      order: str = "a.sort_name, a.id", joins: str = "", limit=None,
                      offset=0) -> list[Album]:
        """Albums with at least one visible track, song count and duration of visible tracks.

        The page is chosen first (walking the sort order's index, an EXISTS per album), its
        counts computed after: a grid page costs its 50 albums, not the whole collection.
        """
        visible, params = viewer.clause("t")
        sql = (f"SELECT a.id AS id FROM music_albums a {joins} WHERE {where} AND EXISTS"
               f" (SELECT 1 FROM music_tracks t WHERE t.album_id = a.id AND {visible})"
               f" ORDER BY {order}")
        all_params = list(where_params) + params
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            all_params += [limit, offset]
        ids = [row["id"] for row in await fetch(sql, all_params)]
        if not ids:
            return []
        counted = await fetch(
            "SELECT t.album_id AS id, COUNT(*) AS song_count, SUM(t.duration) AS duration"
            f" FROM music_tracks t WHERE t.album_id IN ({', '.join('?' for _ in ids)}) AND {visible}"
            " GROUP BY t.album_id", ids + params)
        counts = {row["id"]: row for row in counted}
        rows = {row.id: row for row in await MusicAlbum.filter(id__in=ids)}
        return [album_shape(rows[i], counts[i]["song_count"], counts[i]["duration"])
                for i in ids if i in rows and i in counts]

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

    async def _track_ids(self, viewer: Viewer, *, where: str = "1 = 1", where_params=(),
                         order: str = TRACK_ORDER, joins: str = "", limit=None, offset=0) -> list[str]:
        visible, params = viewer.clause("t")
        sql = f"SELECT t.id AS id FROM music_tracks t {joins} WHERE {visible} AND {where} ORDER BY {order}"
        params = params + list(where_params)
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return [row["id"] for row in await fetch(sql, params)]

    async def _load_tracks(self, viewer: Viewer, ids: list[str]) -> list[Track]:
        rows = {row.id: row for row in await MusicTrack.filter(id__in=ids).select_related("album")}
        return [track_shape(rows[i], viewer) for i in ids if i in rows and viewer.sees_track(rows[i])]

    async def album_tracks(self, user, album_id: str) -> list[Track]:
        """The album's visible tracks in disc and track order."""
        viewer = await viewer_for(user)
        ids = await self._track_ids(viewer, where="t.album_id = ?", where_params=[album_id])
        return await self._load_tracks(viewer, ids)

    async def track(self, user, track_id: str) -> Track | None:
        found = await self.tracks(user, [track_id])
        return found[0] if found else None

    async def tracks(self, user, ids: list[str]) -> list[Track]:
        """The visible tracks among `ids`, in the order given (unknown or invisible left out)."""
        ids = [i for i in dict.fromkeys(ids) if isinstance(i, str)][:MAX_IDS]
        return await self._load_tracks(await viewer_for(user), ids) if ids else []

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
        ids = await self._track_ids(viewer, where=" AND ".join(where), where_params=params,
                                    order="RANDOM()", limit=limit)
        return await self._load_tracks(viewer, ids)

    async def newest_tracks(self, user, size: int = 10, offset: int = 0) -> list[Track]:
        """The most recently added visible tracks first (a party picker's empty search)."""
        limit, offset = page(size, offset, default=10)
        viewer = await viewer_for(user)
        ids = await self._track_ids(viewer, order="t.created_at DESC, t.id", limit=limit, offset=offset)
        return await self._load_tracks(viewer, ids)

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
        ids = await self._track_ids(
            viewer, where="t.id IN (SELECT g.track_id FROM music_track_genres g WHERE g.genre = ?)",
            where_params=[genre], order="t.sort_title, t.id", limit=limit, offset=offset)
        return await self._load_tracks(viewer, ids)

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
            match, params = await track_matches(query)
            ids = await self._track_ids(viewer, where=match, where_params=params,
                                        order="t.sort_title, t.id", limit=limit, offset=offset)
            result.tracks = await self._load_tracks(viewer, ids)
        return result

    # -- media (streaming.py and covers.py serve the bytes) -----------------------------------

    async def stream_response(self, user, track_id: str, format: str | None = None,
                              max_bitrate: int | None = None, time_offset: float = 0):
        from mediahub_music_library.streaming import stream_response

        return await stream_response(user, track_id, format, max_bitrate, time_offset)

    async def cover_response(self, cover_id: str, size: int | None = None):
        from mediahub_music_library.covers import cover_response

        return await cover_response(cover_id, size)


# -- rows to shapes --------------------------------------------------------------------------


def artist_shape(row: MusicArtist, album_count: int) -> Artist:
    return Artist(row.id, row.name, int(album_count or 0), row.cover_id, cover_url(row.cover_id),
                  row.mbid)


def album_shape(row: MusicAlbum, song_count: int, duration) -> Album:
    return Album(row.id, row.name, row.artist_id, row.artist_name, row.year, list(row.genres or []),
                 int(song_count or 0), round(float(duration or 0), 3), row.cover_id,
                 cover_url(row.cover_id), row.created_at, row.mbid)


def track_shape(row: MusicTrack, viewer: Viewer) -> Track:
    album = row.album
    gain = row.replay_gain or None
    return Track(
        id=row.id, title=row.title, album_id=row.album_id, album=album.name,
        artist_id=row.artist_id, artist=row.artist_name,
        artists=[{"id": artist_id, "name": name} for artist_id, name in row.artists or []],
        album_artist_id=album.artist_id, album_artist=album.artist_name, track_no=row.track_no,
        disc_no=row.disc_no, year=row.year, genres=list(row.genres or []),
        duration=round(row.duration, 3), bitrate=row.bitrate, sample_rate=row.sample_rate,
        channels=row.channels, suffix=row.suffix, content_type=row.content_type, size=row.size,
        path=row.rel_path if row.folder_id is not None else f"uploads/{row.title}.{row.suffix}",
        created_at=row.created_at, cover_id=row.cover_id or album.cover_id,
        cover_url=cover_url(row.cover_id or album.cover_id), stream_url=stream_url(row.id),
        has_lyrics=bool(row.lyrics), replay_gain=dict(gain) if gain else None, mbid=row.mbid,
        folder_id=row.folder_id, uploaded=row.folder_id is None, shared=row.shared,
        mine=row.owner_id is not None and str(row.owner_id) == viewer.user_id)
