"""Raw SQL for the catalog: one placeholder style for both databases, and prefix search per dialect.

Statements are written with `?` placeholders; on PostgreSQL they become `$1, $2, ...`.
Search text is folded by the plugin before it is stored (names.fold), so SQLite's FTS5
tables and PostgreSQL's GIN full-text indexes compare the same words.
"""

from __future__ import annotations

import logging

from mediahub_music_library.models import MusicTrack
from mediahub_music_library.names import prefix_words

MAX_PAGE = 500
log = logging.getLogger(__name__)


def connection():
    return MusicTrack._meta.db


def is_postgres() -> bool:
    return connection().capabilities.dialect == "postgres"


def numbered(sql: str) -> str:
    """`?` -> `$n` (the statements here never hold a literal question mark)."""
    parts = sql.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


async def fetch(sql: str, params: list) -> list[dict]:
    if is_postgres():
        sql = numbered(sql)
    return await connection().execute_query_dict(sql, params)


SEARCH_TABLES = ("music_tracks", "music_albums", "music_artists")
ANALYZE_AFTER = 1000  # rows written by a scan before the planner's statistics are renewed


async def tidy_tables(written: int) -> None:
    """After a scan wrote `written` tracks (PostgreSQL; nothing to do on SQLite): VACUUM the
    searched tables, and ANALYZE them too after a big scan, instead of waiting for autovacuum
    (when it is on at all, and whenever its turn comes).

    - A GIN index takes new entries into a pending list that every search then reads in
      full until a VACUUM merges it: after a 50,000-track scan ~140 pages, and search as
      you type took twice as long (p50 25 ms against 10 ms in one run).
    - The empty search's pages walk the title index past `offset` tracks; only on pages
      VACUUM marked all-visible is that index read alone (a 500-song page at offset 45,000:
      ~300 ms before, 25 ms after).
    - A first big scan leaves the planner without row counts until an ANALYZE.
    Failing (a replica, a role that does not own the tables) only leaves searches slower.
    """
    if not is_postgres() or written <= 0:
        return
    command = "VACUUM (ANALYZE)" if written >= ANALYZE_AFTER else "VACUUM"
    try:  # VACUUM cannot run in a transaction: a plain statement through the simple protocol
        await connection().execute_script(f"{command} {', '.join(SEARCH_TABLES)}")
    except Exception as exc:  # asyncpg's and Tortoise's errors alike
        log.warning("could not %s the collection's tables: %s", command, exc)


def page(size, offset, default: int = 50) -> tuple[int, int]:
    """A (limit, offset) pair clamped to sane bounds: size 0..500, offset >= 0."""
    size = default if size is None else size
    return max(0, min(int(size), MAX_PAGE)), max(0, int(offset or 0))


def paged(id_column: str, tables: str, where: str, params: list, order: str, limit,
          offset) -> tuple[str, list]:
    """`(where, params)` of a list's one statement, FROM `tables` too: the rows of its page.

    With a limit, a subquery walking `order` picks the page's ids first, so the statement
    around it computes its columns and counts for those rows only; without one, `where`
    lists every row.
    """
    if limit is None:
        return where, params
    return (f"{id_column} IN (SELECT {id_column} FROM {tables} WHERE {where} ORDER BY {order}"
            " LIMIT ? OFFSET ?)", params + [limit, offset])


def matches(table: str, alias: str, query: str) -> tuple[str, list]:
    """`(sql, params)`: every word of `query` is a prefix of a word of the row's search text.

    An empty query (no words) matches every row.
    """
    words = prefix_words(query)
    if not words:
        return "1 = 1", []
    if is_postgres():
        # search_vector: to_tsvector(search_text), stored (migration 0005_search_vectors)
        return (f"{alias}.search_vector @@ to_tsquery('simple', ?)",
                [" & ".join(f"{word}:*" for word in words)])
    return (f"{alias}.rowid IN (SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ?)",
            [" ".join(f'"{word}"*' for word in words)])


# Above this many matching tracks (SQLite), walking the title index and checking each row
# against the matches costs less than fetching every match and sorting them.
SORT_MATCHES_LIMIT = 2000


async def track_matches(query: str) -> tuple[str, list]:
    """`matches()` on music_tracks for a list in title order, steering SQLite's plan.

    SQLite knows nothing of how many rows an FTS5 query matches: it always fetches every
    matching track and sorts them (a two-letter prefix of 50,000 tracks: 10,000 rows, ~60 ms).
    When a capped count says the matches are many, a unary plus on the rowid keeps it from
    looking them up one by one, so it walks the (sort_title, id) index and stops at the end
    of the page. PostgreSQL's planner weighs GIN matches itself.
    """
    match, params = matches("music_tracks", "t", query)
    if is_postgres() or not params:
        return match, params
    counted = await fetch("SELECT COUNT(*) AS n FROM (SELECT rowid FROM music_tracks_fts"
                          " WHERE music_tracks_fts MATCH ? LIMIT ?)", params + [SORT_MATCHES_LIMIT])
    return ("+" + match if counted[0]["n"] >= SORT_MATCHES_LIMIT else match), params


# Tracks whose text fits a B-tree entry with its vector (migration 0007's partial index).
SHORT_TEXT = ("(length(t.search_vector) <= 64 AND octet_length(t.search_text) <= 600"
              " AND octet_length(t.sort_title) <= 400)")
TITLE_ORDER = "t.sort_title, t.id"


async def track_page(visible: str, visible_params: list, query: str, limit: int,
                     offset: int) -> tuple[str, list]:
    """`(where, params)`: the tracks of a search's page, in title order (catalog._tracks).

    PostgreSQL walks the title index checking each track's vector until the page is full;
    from migration 0007's index alone for the tracks whose text is short (nearly all), from
    an index of its own for the others, the two branches merged in title order. SQLite
    takes track_matches' plan.
    """
    match, params = await track_matches(query)
    if not (is_postgres() and params):
        return paged("t.id", "music_tracks t", f"{visible} AND {match}", visible_params + params,
                     TITLE_ORDER, limit, offset)
    def branch(size: str) -> str:
        return (f"(SELECT t.id, t.sort_title FROM music_tracks t WHERE {size} AND {visible}"
                f" AND {match} ORDER BY {TITLE_ORDER} LIMIT ?)")

    per_branch = visible_params + params + [limit + offset]
    return (f"t.id IN (SELECT id FROM ({branch(SHORT_TEXT)} UNION ALL {branch(f'NOT {SHORT_TEXT}')})"
            " found ORDER BY sort_title, id LIMIT ? OFFSET ?)", per_branch + per_branch + [limit, offset])
