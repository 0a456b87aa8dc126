"""Database: migrations apply on SQLite and PostgreSQL; SQLite survives two writing processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from click.testing import CliRunner

from mediahub import db
from mediahub.cli import main
from mediahub.testing import make_settings


async def test_migrations_create_the_core_tables(tmp_path, database_overrides):
    from mediahub.models import Job, MediaObject, User

    settings = make_settings(tmp_path, database_overrides)
    config = db.tortoise_config(settings.database_url, {})
    await db.init_db(config)
    try:
        user = await User.create(username="alice")
        await MediaObject.create(backend="local", key="a/b.mp3", owner=user)
        assert await MediaObject.filter(owner_id=user.id).count() == 1
        assert await Job.all().count() == 0
        # Applying again is a no-op, not an error.
        await db.apply_migrations(config)
    finally:
        await db.close_db()


def test_migrate_command_applies_then_reports_up_to_date(tmp_path):
    config = tmp_path / "mediahub.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path}/data"\n')
    first = CliRunner().invoke(main, ["-c", str(config), "migrate"])
    assert first.exit_code == 0, first.output
    assert "applied core.0001_initial" in first.output
    second = CliRunner().invoke(main, ["-c", str(config), "migrate"])
    assert second.exit_code == 0, second.output
    assert "applied" not in second.output
    assert "database is up to date" in second.output


WRITER = textwrap.dedent("""
    import asyncio, sys
    from tortoise.transactions import in_transaction
    from mediahub import db
    from mediahub.models import User

    async def main(url, tag):
        await db.init_db(db.tortoise_config(url, {}), migrate=False)
        try:
            for i in range(40):
                # read-then-write: the pattern that deadlocks under a deferred BEGIN
                async with in_transaction():
                    n = await User.all().count()
                    await User.create(username=f"{tag}-{i}-{n}")
        finally:
            await db.close_db()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


async def test_two_processes_writing_sqlite_never_hit_database_is_locked(tmp_path):
    from mediahub.models import User

    settings = make_settings(tmp_path)
    config = db.tortoise_config(settings.database_url, {})
    await db.init_db(config)
    await db.close_db()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    writers = [subprocess.Popen([sys.executable, str(script), settings.database_url, tag],
                                stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    await db.init_db(config, migrate=False)
    try:
        assert await User.all().count() == 80
    finally:
        await db.close_db()


async def test_every_model_change_has_its_migration(tmp_path):
    """Core and every installed plugin: models and migrations agree (else `migrate` would
    leave a table behind what the code expects). `mediahub makemigrations` fixes a failure."""
    from mediahub.app import build_plugin_host, database_config

    settings = make_settings(tmp_path)
    config = database_config(settings, build_plugin_host(settings))
    assert {"core", "listen_party", "library_sync"} <= set(config["apps"])
    try:
        missing = await db.detect_model_changes(config)
    finally:
        await db.close_db()
    assert [(writer.app_label, [type(op).__name__ for op in writer.operations]) for writer in missing] == []
