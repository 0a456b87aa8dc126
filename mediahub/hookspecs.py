"""Every extension point the host itself turns on: the plugin author's reference.

Any hook implementation may be ``async def``; the host awaits it (registration hooks, which
run before the event loop, are the exception: they must be plain functions). Every hook is
called through one dispatcher (``mediahub.dispatch``), reached as ``mediahub.call_hook``
(every result that is not None, in order) or ``mediahub.first_result`` (the first such
result; later implementations are not called). A spec marked ``firstresult=True`` always
stops at its first result. Implementations run in pluggy's order: ``tryfirst`` ones first,
then the most recently registered, and built-in defaults last (they are ``trylast`` so a
third-party plugin can override them); ``wrapper=True`` / ``hookwrapper=True`` generators
wrap the awaited results as in pluggy.

An implementation may accept any subset of a hook's arguments, by name. Hooks that
belong to one feature are declared by its plugin (``register_hookspecs``), e.g.
listen-party's ``mediahub_listen_party/hookspecs.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediahub.markers import hookspec

if TYPE_CHECKING:
    from types import ModuleType

    import click
    from quart import Quart, Request
    from mediahub.models import MediaObject, User
    from mediahub.datatypes import ByteRange, IncomingUpload


# --------------------------------------------------------------------------------------
# Registration: called once while the app (or the CLI) is being built.
# --------------------------------------------------------------------------------------


@hookspec
def register_hookspecs() -> ModuleType | list[ModuleType] | None:
    """Declare the hooks this plugin owns (its extension points for other plugins).

    Called once while plugins load, before hook implementations are checked.

    :return: a module (or class, or a list of them) whose functions are decorated with
        ``@mediahub.hookspec``; the host adds it with ``pm.add_hookspecs``. Other plugins
        implement those hooks with ``@hookimpl(optionalhook=True)`` so that they still load
        when the owning plugin is disabled, and calling such a hook then returns ``[]`` /
        ``None``.
    """


@hookspec
def register_config_sections() -> dict[str, type]:
    """Declare the plugin's configuration sections.

    Called once at startup, before anything else of the plugin runs.

    :return: ``{section_name: pydantic model class}``. The table ``[plugins.<section_name>]``
        of the config file is validated with the model; an invalid table disables the
        plugin (reported by ``mediahub plugins``) while the server still starts. The
        validated model is then available as ``host.plugin_config(section_name)``.
    """


@hookspec
def register_storage_backends() -> dict[str, Any]:
    """Offer storage backend types.

    :return: ``{type_name: factory}`` where ``factory(settings: dict) -> Storage`` builds a
        backend from one ``[storage.<name>]`` table (``type = "<type_name>"``). The factory
        may raise ``mediahub.ConfigProblem`` to report a bad setting by key.
    """


@hookspec
def register_models() -> dict[str, dict[str, str]]:
    """Declare the plugin's database models.

    :return: ``{app_label: {"models": "pkg.models", "migrations": "pkg.migrations"}}``.
        Each plugin ships its own Tortoise migrations package; ``mediahub migrate`` (and
        ``mediahub serve`` at start) applies them. Use a label unique to the plugin.
    """


@hookspec
def register_routes(app: Quart) -> list[Any]:
    """Add HTTP routes and pages.

    :param app: the Quart app being built.
    :return: a list of ``quart.Blueprint`` objects (API routes and pages); they are
        registered in plugin order. A plugin may also register routes on ``app`` itself.
    """


@hookspec
def register_jobs() -> dict[str, Any]:
    """Declare background job handlers.

    :return: ``{job_name: async handler(ctx: JobContext, payload: dict)}``. Jobs are
        enqueued with ``host.jobs.enqueue(job_name, payload, key=...)``, persisted in the
        database, retried with backoff and resumed after a restart.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``mediahub`` command line.

    :param cli: the root click group; call ``cli.add_command(...)``.
    """


@hookspec
def register_nav_items(request: Request) -> list[dict[str, str]]:
    """Add links to the site menu.

    Called on every page render.

    :param request: the current request (check ``request.mediahub_user`` for the viewer).
    :return: a list of ``{"label": ..., "href": ...}``; items from all plugins are shown
        in plugin order.
    """


# --------------------------------------------------------------------------------------
# Lifespan
# --------------------------------------------------------------------------------------


@hookspec
def startup(app: Quart) -> None:
    """The server is starting: the database, storage, bus and jobs are ready.

    Open connections, start background tasks. A plugin raising here is disabled and
    logged; the others still start.
    """


@hookspec
def shutdown(app: Quart) -> None:
    """The server is stopping. Close what ``startup`` opened. Failures are logged."""


# --------------------------------------------------------------------------------------
# Media: upload, stream
# --------------------------------------------------------------------------------------


@hookspec
def upload_validate(upload: IncomingUpload) -> None:
    """Inspect an upload before it is stored.

    Called after the first bytes have been sniffed (``upload.detected_type``,
    ``upload.declared_size``, ``upload.purpose``, ``upload.user``) and before anything
    is written.

    Raise ``mediahub.UploadRejected(reason, status=...)`` to refuse it; the client gets that
    status (default 422) with the reason and nothing is kept. Any other exception is a bug
    in the plugin: it is logged and the upload is refused with 500.
    """


@hookspec
def upload_received(media: MediaObject, purpose: str, user: User | None) -> None:
    """An upload's bytes are stored and its ledger row is final (``state == "stored"``).

    :param media: the ledger row (key, backend, size, sha256, content_type).
    :param purpose: what the uploading plugin said the file is for (``"render"``, ...).
    :param user: the uploader, if signed in.

    A notification: a plugin raising is logged and the others still run.
    """


@hookspec(firstresult=True)
def stream_url(media: MediaObject, user: User | None) -> str | None:
    """A client asks to play ``media``: offer a direct URL (presigned or CDN).

    :return: a URL, or None to let the host proxy the bytes with its own Range streaming.
        ``firstresult``: the first non-None result wins and later implementations are not
        called.
    """


@hookspec
def stream_started(media: MediaObject, user: User | None, byte_range: ByteRange | None) -> None:
    """A media response served by the host begins.

    :param byte_range: the range being sent, or None for the whole object.

    A notification (counting plays, analytics); failures are logged.
    """


# --------------------------------------------------------------------------------------
# Maintenance
# --------------------------------------------------------------------------------------


@hookspec
def cleanup(now: float) -> dict[str, int]:
    """A sweep runs (every ``[server] sweep_interval`` and on ``mediahub cleanup``).

    :param now: the sweep's time (``time.time()``); compare expiries against it, not the
        wall clock, so tests can sweep "in the future".
    :return: ``{what: count}`` of what this plugin removed, e.g. ``{"temp_uploads": 3}``.
    """
