"""Helpers for testing mediahub and its plugins: settings in a temp dir, a started app."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

from quart import Quart

from mediahub.app import create_app
from mediahub.config import Settings, deep_merge, load_settings
from mediahub.testing.templates import start_from_template


def make_settings(data_dir: Path, overrides: dict[str, Any] | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Embedded-default settings with everything under data_dir (no config file read).

    `overrides` uses the TOML shape: {"server": {"sweep_interval": 5}, "plugins": {...}}.
    """
    # Every test client comes from one address: the per-address abuse limits are off unless
    # a test sets them (tests of the limits do).
    base: dict[str, Any] = {"server": {"data_dir": str(data_dir), "sweep_interval": 3600},
                            "auth": {"guests_per_address_per_minute": 0,
                                     "failed_sign_ins_per_address_per_minute": 0}}
    deep_merge(base, overrides or {})
    return load_settings(None, environ=environ or {}, overrides=base)


STARTUP_TIMEOUT = 240


@contextlib.asynccontextmanager
async def running_app(settings: Settings, plugins: list[tuple[str, Any]] = ()) -> AsyncIterator[Quart]:
    """An app with its lifespan started (database migrated, storage, bus, jobs ready).

    `plugins` are (name, plugin object) pairs registered as if they were installed.
    """
    app = create_app(settings, extra_plugins=list(plugins))
    await start_from_template(app)
    # Quart's 60 s default is too tight for a fresh PostgreSQL database migrated on a
    # machine that is busy with other work (CI runs on 2 cores); a real hang still fails.
    async with app.test_app_class(app, startup_timeout=STARTUP_TIMEOUT,
                                  shutdown_timeout=STARTUP_TIMEOUT) as test_app:
        yield test_app.app


async def login(client, username: str = "alice", password: str = "correct horse battery") -> dict:
    """Register (if needed) and log in; returns {"Authorization": "Bearer ..."} headers."""
    await client.post("/api/auth/register", json={"username": username, "password": password})
    response = await client.post("/api/auth/login", json={"username": username, "password": password})
    body = await response.get_json()
    assert response.status_code == 200, body
    return {"Authorization": f"Bearer {body['access_token']}"}


async def guest(client, display_name: str = "Guest") -> dict:
    response = await client.post("/api/auth/guest", json={"display_name": display_name})
    body = await response.get_json()
    assert response.status_code in (200, 201), body
    return {"Authorization": f"Bearer {body['access_token']}"}
