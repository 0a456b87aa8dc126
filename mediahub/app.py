"""create_app(settings): config -> plugins -> routes -> (at start) database, storage, bus, jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from hypercorn.middleware import ProxyFixMiddleware
from quart import Blueprint, Quart
from quart_schema import QuartSchema

from mediahub import db
from mediahub._compat import quart as quart_compat
from mediahub._compat import quart_schema as quart_schema_compat
from mediahub.body_pace import BodyPace
from mediahub.config import Settings
from mediahub.host import Host
from mediahub.openapi import MediahubOpenAPIProvider
from mediahub.plugins import PluginHost

log = logging.getLogger("mediahub")


def site_dir(name: str) -> str:
    """templates/ or static/: inside the wheel, else the source checkout's top level."""
    packaged = Path(__file__).parent / "_site" / name
    return str(packaged if packaged.is_dir() else Path(__file__).parent.parent / name)


def build_plugin_host(settings: Settings, extra_plugins: list[tuple[str, Any]] = ()) -> PluginHost:
    plugins = PluginHost(settings)
    plugins.load(list(extra_plugins))
    return plugins


def create_app(settings: Settings, extra_plugins: list[tuple[str, Any]] = (),
               plugins: PluginHost | None = None) -> Quart:
    """Build the app; nothing touches the database or storage until the app starts serving."""
    from mediahub import auth, errors_http, pages, streaming
    from mediahub.storage import StorageRegistry

    plugins = plugins or build_plugin_host(settings, extra_plugins)
    host = Host(settings, plugins)

    app = Quart("mediahub", template_folder=site_dir("templates"), static_folder=site_dir("static"))
    app.extensions["mediahub"] = host
    app.secret_key = host.secret_key
    app.config.update(
        # Media bodies are streamed by mediahub.uploads with their own cap; this only bounds
        # the small JSON and form bodies that Quart itself reads.
        MAX_CONTENT_LENGTH=1024 * 1024,
        # Long downloads are never cut: media responses set their own timeout (None).
        RESPONSE_TIMEOUT=60,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        TEMPLATES_AUTO_RELOAD=False,
        QUART_SCHEMA_CONVERT_CASING=False,
        # A body too slow on average, or not complete by its deadline, is a 408 (slowloris).
        MEDIAHUB_BODY_PACE=BodyPace(min_rate=settings.server.body_min_rate,
                                    grace=settings.server.body_grace,
                                    deadline=settings.server.body_deadline),
    )
    # Back-pressure on request bodies: Quart's own connection buffers without limit.
    quart_compat.install(app)
    # quart-schema builds a pydantic TypeAdapter for every dict a route returns: once per type.
    quart_schema_compat.cache_type_adapters()
    # The docs UIs load their JavaScript from a CDN (blank offline): only the JSON is served.
    QuartSchema(app, swagger_ui_path=None, redoc_ui_path=None, scalar_ui_path=None,
                openapi_provider_class=MediahubOpenAPIProvider,
                info={"title": "mediahub", "version": "0.1.0"},
                security_schemes={"bearer": {"type": "http", "scheme": "bearer"}})
    errors_http.install(app)

    host.storage = StorageRegistry.from_settings(settings, plugins, secret_key=host.secret_key)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(auth.api)
    app.register_blueprint(auth.pages)
    app.register_blueprint(streaming.blueprint)
    for plugin_name, blueprints in plugins.call_sync("register_routes", app=app):
        for blueprint in blueprints if isinstance(blueprints, (list, tuple)) else [blueprints]:
            if isinstance(blueprint, Blueprint):
                app.register_blueprint(blueprint)

    @app.before_serving
    async def _start() -> None:
        await start_services(app)

    @app.after_serving
    async def _stop() -> None:
        await stop_services(app)

    app.asgi_app = streaming.MediaGateway(app.asgi_app, host)
    if settings.server.trusted_proxy_hops:
        # Outermost, so that every route, the media gateway and WebSockets see the real client.
        app.asgi_app = ProxyFixMiddleware(app.asgi_app, mode="legacy",
                                          trusted_hops=settings.server.trusted_proxy_hops)
    return app


def model_apps(plugins: PluginHost) -> dict[str, dict[str, str]]:
    apps: dict[str, dict[str, str]] = {}
    for _, declared in plugins.call_sync("register_models"):
        apps.update(declared)
    return apps


def database_config(settings: Settings, plugins: PluginHost) -> dict[str, Any]:
    return db.tortoise_config(settings.database_url, model_apps(plugins))


async def start_services(app: Quart, *, run_jobs: bool | None = None) -> None:
    """Lifespan start: database, storage, bus, jobs, scheduler, then plugins' `startup`."""
    from mediahub.bus import create_bus
    from mediahub.jobs import JobQueue
    from mediahub.scheduler import Scheduler
    from mediahub.ledger import Ledger
    from mediahub.security_headers import page_policy, storage_origins

    host: Host = app.extensions["mediahub"]
    settings = host.settings
    Path(settings.server.data_dir).mkdir(parents=True, exist_ok=True)
    await db.init_db(database_config(settings, host.plugins))
    await host.storage.start()
    host.page_policy = page_policy(await storage_origins(host))
    host.ledger = Ledger(host)
    host.bus = create_bus(settings)
    await host.bus.start()
    host.signin_cache_follower = asyncio.create_task(host.signin_cache.follow(host.bus),
                                                     name="mediahub-signin-cache")
    handlers: dict[str, Any] = {}
    for _, declared in host.plugins.call_sync("register_jobs"):
        handlers.update(declared)
    host.jobs = JobQueue(host, handlers)
    if run_jobs is None:
        run_jobs = settings.jobs.backend == "inprocess"
    await host.jobs.start(run_workers=run_jobs)
    host.scheduler = Scheduler(host)
    host.scheduler.start()
    # A plugin failing to start is disabled (and logged); the others still start.
    await host.plugins.call_each("startup", app=app)


async def stop_services(app: Quart) -> None:
    host: Host = app.extensions["mediahub"]
    await host.call_hook("shutdown", app=app)
    if getattr(host, "scheduler", None):
        await host.scheduler.stop()
    if host.jobs:
        await host.jobs.stop()
    follower, host.signin_cache_follower = host.signin_cache_follower, None
    if follower is not None:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    if host.bus:
        await host.bus.close()
    if host.storage:
        await host.storage.close()
    await db.close_db()
