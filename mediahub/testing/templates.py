"""Migrated SQLite databases made once per test process and copied for each new test app.

Replaying every migration costs a fresh app about 3 s (Tortoise rebuilds its model state per
migration), against 0.1 s for an app whose database is already migrated. Tests start hundreds
of apps, so the first app of each shape migrates a template and the others start from a copy.
The startup still runs the migrator, which finds nothing to do: a test of a migration that is
missing from the template fails as it would on a real server.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from quart import Quart

from mediahub import db

_template_dir: Path | None = None


def template_dir() -> Path:
    """One directory per test process (parallel test runs never share a template)."""
    global _template_dir
    if _template_dir is None:
        _template_dir = Path(tempfile.mkdtemp(prefix="mediahub-db-templates-"))
        atexit.register(shutil.rmtree, _template_dir, ignore_errors=True)
    return _template_dir


def sqlite_path(config: dict[str, Any]) -> Path | None:
    url = config["connections"]["default"]
    if not url.startswith("sqlite://"):
        return None
    path = urlsplit(url).path
    return None if path in ("", ":memory:", "/:memory:") else Path(path)


def migrations_fingerprint(config: dict[str, Any]) -> str:
    """The apps' models and the text of every migration file: a new migration, a new template."""
    digest = hashlib.sha256(json.dumps(config["apps"], sort_keys=True).encode())
    for label in sorted(config["apps"]):
        module = config["apps"][label].get("migrations")
        spec = importlib.util.find_spec(module) if module else None
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for file in sorted(Path(folder).glob("*.py")):
                digest.update(file.name.encode() + file.read_bytes())
    return digest.hexdigest()[:24]


async def start_from_template(app: Quart) -> None:
    """Before the lifespan: put a migrated copy where a new SQLite app's database will be."""
    from mediahub.app import database_config

    host = app.extensions["mediahub"]
    config = database_config(host.settings, host.plugins)
    target = sqlite_path(config)
    if target is None or target.exists():
        return  # PostgreSQL, or a database the test made or kept on purpose
    template = template_dir() / f"{migrations_fingerprint(config)}.sqlite3"
    if not template.exists():
        building = template.with_suffix(".building")
        url = db.sqlite_url(f"sqlite://{building}")
        await db.apply_migrations({**config, "connections": {"default": url}})
        for leftover in building.parent.glob(building.name + "*-lock"):
            leftover.unlink()
        with contextlib.closing(sqlite3.connect(building)) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")  # one file, the WAL folded in
        building.rename(template)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
