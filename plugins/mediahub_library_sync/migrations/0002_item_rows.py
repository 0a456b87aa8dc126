"""Favorites and playlists move from one library_sections row each per user to a row per item.

The data migration is self-contained (it does not import the plugin, whose code moves on):
it splits each user "favorites" and "playlists" section into rows (tombstones included)
and deletes the section; the reverse joins them back.
"""

from datetime import datetime, timezone

from pydantic_core import from_json, to_json
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


def seconds(timestamp):
    """ISO 8601 text to seconds since the epoch (naive means UTC); 0 for none or nonsense."""
    if not timestamp:
        return 0.0
    text = timestamp.replace(" ", "T", 1)
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return 0.0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def playlist_rows_of(user_id, items, meta, model):
    """The library_playlists rows for one stored playlists section."""
    songs_meta = meta.get("songs", {})
    rows = []
    for playlist in items:
        pid = playlist["id"]
        songs = songs_meta.get(pid, {"meta": {}, "tombs": {}})
        times = [tomb[1] for tomb in songs.get("tombs", {}).values()]
        rows.append(model(
            user_id=user_id, playlist_id=pid, created=seconds(playlist.get("created_at")),
            document=to_json(playlist).decode(),
            meta=to_json({"v": meta.get("meta", {}).get(pid, [0, 0]),
                          "order": meta.get("orders", {}).get(pid, 0), "songs": songs}).decode(),
            oldest_tombstone=min(times) if times else None))
    for pid, tomb in meta.get("tombs", {}).items():
        rows.append(model(user_id=user_id, playlist_id=pid, created=0.0, document=None,
                          meta=to_json({"tomb": tomb}).decode(), oldest_tombstone=tomb[1]))
    return rows


def favorite_rows_of(user_id, items, meta, model):
    """The library_favorites rows for one stored favorites section."""
    versions = meta.get("meta", {})
    rows = [model(user_id=user_id, video_id=item["videoId"], added_at=item.get("addedAt") or "",
                  document=to_json(item).decode(),
                  created=versions.get(item["videoId"], [0, 0])[0],
                  changed=versions.get(item["videoId"], [0, 0])[1])
            for item in items]
    rows += [model(user_id=user_id, video_id=video_id, document=None, deleted=tomb[0],
                   deleted_at=tomb[1]) for video_id, tomb in meta.get("tombs", {}).items()]
    return rows


async def split_sections(apps, schema_editor):
    models = {"favorites": (apps.get_model("library_sync", "LibraryFavorite"), favorite_rows_of),
              "playlists": (apps.get_model("library_sync", "LibraryPlaylist"), playlist_rows_of)}
    db = schema_editor.client
    # Plain SQL for library_sections: Tortoise caches INSERT statements per table, and the
    # historical model (which still has oldest_tombstone) would leave its own behind.
    sections = await db.execute_query_dict(
        "SELECT id, user_id, name, items, meta FROM library_sections"
        " WHERE name IN ('favorites', 'playlists')")
    for row in sections:
        model, split = models[row["name"]]
        rows = split(row["user_id"], from_json(row["items"]), from_json(row["meta"]), model)
        if rows:
            await model.bulk_create(rows, batch_size=500, using_db=db)
        await db.execute_query(f"DELETE FROM library_sections WHERE id = {int(row['id'])}")


async def join_favorites(apps, db):
    section = apps.get_model("library_sync", "LibrarySection")
    favorite = apps.get_model("library_sync", "LibraryFavorite")
    by_user = {}
    for row in await favorite.all().using_db(db):
        by_user.setdefault(row.user_id, []).append(row)
    for user_id, rows in by_user.items():
        live = sorted((r for r in rows if r.document is not None),
                      key=lambda r: (r.added_at, r.video_id), reverse=True)
        tombs = {r.video_id: [r.deleted, r.deleted_at] for r in rows if r.document is None}
        meta = {"meta": {r.video_id: [r.created, r.changed] for r in live}, "tombs": tombs}
        items = [from_json(r.document) for r in live]
        await section.create(user_id=user_id, name="favorites", items=to_json(items).decode(),
                             meta=to_json(meta).decode(),
                             oldest_tombstone=min((t[1] for t in tombs.values()), default=None),
                             using_db=db)


async def join_sections(apps, schema_editor):
    await join_favorites(apps, schema_editor.client)
    await join_playlists(apps, schema_editor.client)


async def join_playlists(apps, db):
    section = apps.get_model("library_sync", "LibrarySection")
    playlist = apps.get_model("library_sync", "LibraryPlaylist")
    by_user = {}
    for row in await playlist.all().using_db(db):
        by_user.setdefault(row.user_id, []).append(row)
    for user_id, rows in by_user.items():
        items, meta = [], {"meta": {}, "tombs": {}, "orders": {}, "songs": {}}
        times = []
        for row in sorted(rows, key=lambda r: (r.created, r.playlist_id)):
            row_meta = from_json(row.meta)
            if row.document is None:
                meta["tombs"][row.playlist_id] = row_meta["tomb"]
                times.append(row_meta["tomb"][1])
                continue
            items.append(from_json(row.document))
            meta["meta"][row.playlist_id] = row_meta["v"]
            if row_meta.get("order"):
                meta["orders"][row.playlist_id] = row_meta["order"]
            meta["songs"][row.playlist_id] = row_meta["songs"]
            times.extend(tomb[1] for tomb in row_meta["songs"].get("tombs", {}).values())
        await section.create(user_id=user_id, name="playlists", items=to_json(items).decode(),
                             meta=to_json(meta).decode(),
                             oldest_tombstone=min(times) if times else None, using_db=db)


class Migration(migrations.Migration):
    # Not ('core', '0001_initial') as written: that reorders the plan and other plugins,
    # whose initial migrations name no dependency on core, then run before it.
    dependencies = [('library_sync', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LibraryFavorite',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='library_favorites', on_delete=OnDelete.CASCADE)),
                ('video_id', fields.CharField(max_length=64)),
                ('added_at', fields.CharField(default='', max_length=40)),
                ('document', fields.TextField(null=True, unique=False)),
                ('created', fields.BigIntField(default=0)),
                ('changed', fields.BigIntField(default=0)),
                ('deleted', fields.BigIntField(null=True)),
                ('deleted_at', fields.FloatField(null=True, db_index=True)),
            ],
            options={'table': 'library_favorites', 'app': 'library_sync', 'unique_together': (('user', 'video_id'),), 'pk_attr': 'id', 'table_description': 'One favorite of a library, or the tombstone of a removed one.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LibraryPlaylist',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='library_playlists', on_delete=OnDelete.CASCADE)),
                ('playlist_id', fields.CharField(max_length=80)),
                ('created', fields.FloatField(default=0)),
                ('document', fields.TextField(null=True, unique=False)),
                ('meta', fields.TextField(unique=False)),
                ('oldest_tombstone', fields.FloatField(null=True, db_index=True)),
            ],
            options={'table': 'library_playlists', 'app': 'library_sync', 'unique_together': (('user', 'playlist_id'),), 'pk_attr': 'id', 'table_description': 'One playlist of a library with its songs, or the tombstone of a deleted playlist.'},
            bases=['Model'],
        ),
        ops.RunPython(split_sections, join_sections),
        ops.AlterModelOptions(
            name='LibrarySection',
            options={'table': 'library_sections', 'app': 'library_sync', 'unique_together': (('user', 'name'),), 'pk_attr': 'id', 'table_description': 'One small section of a library (history, queue, preferences, recent searches).'},
        ),
        ops.RemoveField(model_name='LibrarySection', name='oldest_tombstone'),
    ]
