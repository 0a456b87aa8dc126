"""The `mediahub` command: serve | worker | config check/show | plugins | migrate | cleanup | user."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import click

from mediahub.config import ConfigError, Settings, load_settings, shown

CONFIG_ENV = "MEDIAHUB_CONFIG"
CONFIG_HELP = ("TOML config file (default: $MEDIAHUB_CONFIG, else built-in defaults); "
               "give it before or after the command: `mediahub -c FILE config check` "
               "and `mediahub config check -c FILE` are the same.")
CONFIG_FLAGS = ("-c", "--config")


def remember_config(ctx: click.Context, _param, value: str | None) -> str | None:
    """`-c FILE` after a command name: the whole invocation uses it (the last one given wins)."""
    if value is not None:
        ctx.find_root().ensure_object(dict)["config_path"] = value
    return value


def add_config_option(command: click.Command) -> None:
    """Give `command` (and, for a group, every command under it) its own `-c/--config`, so the
    option works after the command name too: the README's `mediahub config check -c FILE`."""
    if not any(param.name == "config_path" for param in command.params):
        command.params.append(click.Option(
            [*CONFIG_FLAGS, "config_path"], type=click.Path(dir_okay=False),
            expose_value=False, callback=remember_config, help=CONFIG_HELP))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_config_option(sub)


def config_in_args(args: list[str]) -> str | None:
    """The `-c/--config` value written after the command name, read before click parses it: the
    plugins (and so the commands they add, like `library scan`) depend on the config file."""
    found = None
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            break
        if arg in CONFIG_FLAGS and rest:
            found = rest.pop(0)
        elif arg.startswith("--config="):
            found = arg[len("--config="):]
        elif arg.startswith("-c") and len(arg) > 2 and not arg.startswith("--"):
            found = arg[2:]
    return found


def settings_from(ctx: click.Context) -> Settings:
    """Settings for this invocation; config mistakes end the command with every problem listed."""
    path = ctx.obj.get("config_path")
    try:
        return load_settings(path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"config error: {problem}", err=True)
        ctx.exit(2)


def build_plugins(settings: Settings):
    from mediahub.app import build_plugin_host
    from mediahub.plugins import PluginStartupError

    try:
        return build_plugin_host(settings)
    except PluginStartupError as exc:
        raise click.ClickException(str(exc)) from None


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.server.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


class MediahubGroup(click.Group):
    """Adds the commands plugins register (the `register_commands` hook) on first use, and gives
    every command the `-c/--config` option."""

    # The config files whose plugins' commands were added (one process may run several, e.g. tests).
    plugins_loaded_for: set = set()

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        add_config_option(cmd)
        super().add_command(cmd, name)

    def _load_plugin_commands(self, ctx: click.Context, after: str | None = None) -> None:
        config_path = after or ctx.params.get("config_path") or os.environ.get(CONFIG_ENV)
        if config_path in self.plugins_loaded_for:
            return
        self.plugins_loaded_for.add(config_path)
        try:
            settings = load_settings(config_path)
            plugins = build_plugins(settings)
        except (ConfigError, click.ClickException):
            return  # the command itself reports config problems
        plugins.call_sync("register_commands", cli=self)

    def list_commands(self, ctx):
        self._load_plugin_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None:
            self._load_plugin_commands(ctx)
            command = super().get_command(ctx, name)
        return command

    def resolve_command(self, ctx, args):
        if args and super().get_command(ctx, args[0]) is None:
            # `mediahub library scan -c FILE`: FILE's plugins decide whether `library` exists.
            self._load_plugin_commands(ctx, after=config_in_args(args[1:]))
        return super().resolve_command(ctx, args)


@click.group(cls=MediahubGroup)
@click.option(*CONFIG_FLAGS, "config_path", type=click.Path(dir_okay=False),
              envvar=CONFIG_ENV, help=CONFIG_HELP)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """mediahub: a self-hosted media server."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path  # a `-c` after the command name replaces it


# ---------------------------------------------------------------------------- serve


@main.command()
@click.option("--host", help="Address to listen on (overrides server.host).")
@click.option("--port", type=int, help="Port to listen on (overrides server.port).")
@click.option("--reuse-port", is_flag=True,
              help="Share the port with other `mediahub serve` processes started the same way "
                   "(SO_REUSEPORT: the kernel spreads connections over them; they need a shared "
                   "database and the Redis bus, see docs/nginx.md).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, reuse_port: bool = False) -> None:
    """Run the web server (applies pending migrations first)."""
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config as HypercornConfig

    from mediahub import gc_policy
    from mediahub.app import create_app
    from mediahub.plugins import PluginStartupError
    from mediahub._compat.hypercorn import set_websocket_compression

    settings = settings_from(ctx)
    configure_logging(settings)
    set_websocket_compression(settings.server.websocket_compression)
    try:
        app = create_app(settings)
    except (PluginStartupError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    # Start-up and long-lived sockets frozen out of full collections (mediahub/gc_policy.py):
    # after the app's own start, which registered first.
    gc_policy.install(app)
    config = HypercornConfig()
    config.bind = [f"{host or settings.server.host}:{port or settings.server.port}"]
    listening = None
    if reuse_port:
        listening = reuse_port_socket(host or settings.server.host, port or settings.server.port)
        config.bind = [f"fd://{listening.fileno()}"]
    config.backlog = 1024  # many WebSockets connect at once when a party starts
    config.accesslog = None
    config.graceful_timeout = 5
    address = f"{host or settings.server.host}:{port or settings.server.port}"
    click.echo(f"mediahub listening on http://{address}  (data: {settings.server.data_dir})")
    asyncio.run(hypercorn_serve(app, config))
    if listening is not None:
        listening.close()


def reuse_port_socket(host: str, port: int):
    """A TCP socket bound with SO_REUSEPORT, for Hypercorn's `fd://` bind (Hypercorn sets
    the option only for its own multi-worker mode)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host.strip("[]"), port))
    sock.set_inheritable(True)
    return sock


@main.command()
@click.option("--burst", is_flag=True, help="Run queued jobs, then exit.")
@click.pass_context
def worker(ctx: click.Context, burst: bool) -> None:
    """Run background jobs from Redis (jobs.backend = "arq")."""
    from mediahub.worker import run_worker

    settings = settings_from(ctx)
    configure_logging(settings)
    if settings.jobs.backend != "arq":
        raise click.ClickException('`mediahub worker` needs jobs.backend = "arq" and jobs.redis_url; '
                                   "with the in-process default, `mediahub serve` runs jobs itself")
    asyncio.run(run_worker(settings, burst=burst))


# ---------------------------------------------------------------------------- config


@main.group()
def config() -> None:
    """Check or show the configuration."""


@config.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Report every mistake in the config file at once; exit non-zero if there is one."""
    problems = check_config(ctx.obj.get("config_path"))
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        click.echo(f"{len(problems)} problem(s) found", err=True)
        ctx.exit(1)
    click.echo("config ok")


def check_config(path: str | None) -> list[str]:
    """Every problem, each once: the file's own, then those only plugins can see (their sections'
    values, sections nobody reads, backend types). Nothing else is printed: the plugin host's log
    lines ("plugin X disabled: ...") would repeat a problem already in the list."""
    import difflib

    from mediahub.app import build_plugin_host
    from mediahub.plugins import PluginStartupError
    from mediahub.storage import StorageRegistry

    from mediahub.config import inspect_settings, normalise_plugin_name

    settings, problems = inspect_settings(path)
    if any(p.startswith(f"{path}:") for p in problems):
        return problems  # unreadable file: nothing more to check
    try:
        with logs_held_back():
            plugins = build_plugin_host(settings)
    except PluginStartupError as exc:
        return [f"plugins: {exc}"]
    for record in plugins.records.values():
        if record.status != "failed":
            continue
        if record.reason.startswith("invalid config: "):
            problems.extend(record.reason[len("invalid config: "):].split("; "))
        else:  # a plugin that cannot load is a mistake of this setup too (e.g. [plugins] dirs)
            problems.append(f"plugins: {record.name} failed: {record.reason}")
    declared = set(plugins.declared_sections)
    enabled = {normalise_plugin_name(r.name) for r in plugins.records.values() if r.status == "enabled"}
    installed = {normalise_plugin_name(name) for name in plugins.records}
    for section, table in settings.plugin_sections.items():
        if section in declared:
            continue
        if section in enabled and table:
            problems.append(f"plugins.{section}: this plugin has no settings "
                            f"(unknown keys: {', '.join(sorted(table))})")
        elif section not in installed:
            close = difflib.get_close_matches(section, sorted(declared | installed), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(f"plugins.{section}: no installed plugin reads this section{hint}")
        # else: the plugin is disabled (or failed to load), so nothing can tell what it reads
    try:
        StorageRegistry.from_settings(settings, plugins)
    except ConfigError as exc:
        problems.extend(p for p in exc.problems if p not in problems)
    return problems


class logs_held_back:
    """Log records emitted meanwhile are dropped: `config check` reports through its list."""

    def __enter__(self):
        self.before = logging.root.manager.disable
        logging.disable(logging.CRITICAL)

    def __exit__(self, *exc):
        logging.disable(self.before)


@config.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the effective settings (file + environment) with secrets masked."""
    settings = settings_from(ctx)
    click.echo(json.dumps(shown(settings), indent=2, default=str))


# ---------------------------------------------------------------------------- plugins


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool) -> None:
    """List every plugin, its status and the hooks it implements."""
    settings = settings_from(ctx)
    plugins = build_plugins(settings)
    rows = [{"name": r.name, "status": r.status, "reason": r.reason, "source": r.source,
             "hooks": r.hooks} for r in plugins.records.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        status = row["status"] if not row["reason"] else f"{row['status']}: {row['reason']}"
        click.echo(f"{row['name']:<24} {status}")
        click.echo(f"{'':<24} source: {row['source']}")
        if row["hooks"]:
            click.echo(f"{'':<24} hooks: {', '.join(row['hooks'])}")


# ---------------------------------------------------------------------------- database


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply pending database migrations of the core and every enabled plugin."""
    from mediahub import db
    from mediahub.app import database_config

    settings = settings_from(ctx)
    Path(settings.server.data_dir).mkdir(parents=True, exist_ok=True)
    config = database_config(settings, build_plugins(settings))

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            click.echo(f"applied {app_label}.{name}")

    async def run() -> None:
        try:
            await db.apply_migrations(config, progress=progress)
        finally:
            await db.close_db()

    asyncio.run(run())
    click.echo("database is up to date")


@main.command(hidden=True)
@click.argument("app_labels", nargs=-1)
@click.option("--name", help="Migration name.")
@click.pass_context
def makemigrations(ctx: click.Context, app_labels: tuple[str, ...], name: str | None) -> None:
    """(Developers) write migration files for model changes."""
    from mediahub import db
    from mediahub.app import database_config

    settings = settings_from(ctx)
    config = database_config(settings, build_plugins(settings))

    async def run() -> list[str]:
        try:
            return await db.make_migrations(config, list(app_labels) or None, name)
        finally:
            await db.close_db()

    for path in asyncio.run(run()) or ["no changes"]:
        click.echo(path)


@main.command()
@click.pass_context
def cleanup(ctx: click.Context) -> None:
    """Run one sweep now: expired uploads, stuck ledger rows, orphaned objects."""
    from mediahub.app import create_app, start_services, stop_services
    from mediahub.scheduler import run_sweep

    settings = settings_from(ctx)
    configure_logging(settings)
    app = create_app(settings)

    async def run() -> dict[str, int]:
        async with app.app_context():
            await start_services(app, run_jobs=False)
            try:
                return await run_sweep(app.extensions["mediahub"])
            finally:
                await stop_services(app)

    counts = asyncio.run(run())
    for what, count in sorted(counts.items()):
        click.echo(f"{what}: {count}")
    click.echo(f"swept: {sum(counts.values())} removed")


def run_with_services(ctx: click.Context, work):
    """Run `await work(host)` with the app's services started for this command's config (-c).

    For commands plugins add with `register_commands`; returns what `work` returns.
    """
    from mediahub.app import create_app, start_services, stop_services

    settings = settings_from(ctx.find_root())
    configure_logging(settings)
    app = create_app(settings)

    async def run():
        async with app.app_context():
            await start_services(app, run_jobs=False)
            try:
                return await work(app.extensions["mediahub"])
            finally:
                await stop_services(app)

    return asyncio.run(run())


# ---------------------------------------------------------------------------- users


@main.group()
def user() -> None:
    """Manage accounts."""


@user.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--admin", is_flag=True, help="Give the account admin rights.")
@click.pass_context
def user_create(ctx: click.Context, username: str, password: str, admin: bool) -> None:
    """Create an account."""
    from mediahub.auth import create_user

    created = run_on_the_database(ctx, lambda: create_user(username, password, admin=admin))
    click.echo(f"created user {created.username}{' (admin)' if admin else ''}")


@user.command("set-password")
@click.argument("username")
@click.option("--password", prompt="New password", hide_input=True, confirmation_prompt=True)
@click.pass_context
def user_set_password(ctx: click.Context, username: str, password: str) -> None:
    """Give an account a new password (a forgotten one) and sign it out everywhere."""
    from mediahub.accounts import find_user, set_password

    async def change():
        found = await find_user(username)
        if found is None:
            raise click.ClickException(f"no account named {username!r}")
        await set_password(found, password)
        return found

    changed = run_on_the_database(ctx, change)
    seconds = settings_from(ctx).auth.sign_in_cache_seconds
    click.echo(f"new password set for {changed.username}; every token and browser session of "
               f"the account is revoked (a running server stops accepting them within {seconds:g} s)")


def run_on_the_database(ctx: click.Context, work):
    """`await work()` with the configured database open (created if new); a MediahubError
    becomes the command's error message."""
    from mediahub import db
    from mediahub.app import database_config
    from mediahub.errors import MediahubError

    settings = settings_from(ctx)
    Path(settings.server.data_dir).mkdir(parents=True, exist_ok=True)
    config = database_config(settings, build_plugins(settings))

    async def run():
        try:
            await db.init_db(config)
            return await work()
        finally:
            await db.close_db()

    try:
        return asyncio.run(run())
    except MediahubError as exc:
        raise click.ClickException(exc.message) from None


# Every built-in command (nested ones included) takes `-c` after its name too; plugin commands
# get it when they are added (MediahubGroup.add_command).
add_config_option(main)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
