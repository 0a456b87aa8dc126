"""Load the one TOML config file into typed settings, reporting every mistake at once."""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

ENV_PREFIX = "MEDIAHUB__"
MASK = "********"


class Section(BaseModel):
    """Base for every config section: unknown keys are mistakes, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    data_dir: Path = Path("./mediahub-data")
    # Signs cookies, CSRF tokens and local-disk download URLs. Generated and kept in
    # data_dir/secret_key when absent, so a fresh install needs no setup.
    secret_key: SecretStr | None = None
    public_url: str | None = None
    sweep_interval: float = Field(300.0, gt=0)
    # How old an object without a ledger row must be before the sweep removes it.
    orphan_grace: float = Field(3600.0, ge=0)
    max_upload_bytes: int = Field(512 * 1024 * 1024, gt=0)
    # Seconds a signed media URL stays valid.
    media_url_ttl: int = Field(3600, gt=0)
    # permessage-deflate for WebSockets: costs more than it saves on tiny party messages.
    websocket_compression: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Behind N reverse proxies, the client address, scheme and host are read from the Nth
    # last X-Forwarded-For / -Proto / -Host value. 0 (direct): those headers are ignored,
    # since anyone could send them.
    trusted_proxy_hops: int = Field(0, ge=0, le=10)
    # Decoding uploads (waveforms, HLS, loudness): this many ffmpeg runs at once per process,
    # each killed after decode_timeout seconds; a request waits decode_wait s for a slot.
    max_concurrent_decodes: int = Field(2, ge=1, le=64)
    decode_timeout: float = Field(120.0, gt=0)
    decode_wait: float = Field(20.0, ge=0)
    # Every request body (uploads, forms, JSON) must keep a pace or get 408: after the first
    # body_grace seconds it must average body_min_rate bytes/s (0 = no minimum), and it must
    # be complete within body_deadline seconds. Counted only while the server is ready to read.
    body_min_rate: int = Field(1024, ge=0)
    body_grace: float = Field(30.0, ge=0)
    body_deadline: float = Field(3600.0, gt=0)


class DatabaseSettings(Section):
    # Empty means the embedded SQLite file in data_dir.
    url: SecretStr | None = None


class AuthSettings(Section):
    access_token_ttl: int = Field(900, gt=0)
    refresh_token_ttl: int = Field(30 * 24 * 3600, gt=0)
    session_ttl: int = Field(14 * 24 * 3600, gt=0)
    allow_signup: bool = True
    allow_guests: bool = True
    # Per-address abuse limits (per minute, all instances together; 0 = none). A room of
    # guests behind one NAT must still get in; a script making accounts must not.
    guests_per_address_per_minute: int = Field(60, ge=0)
    failed_sign_ins_per_address_per_minute: int = Field(30, ge=0)
    # A token or session found live is trusted this long without reading the database
    # again (mediahub/signin_cache.py); every revocation of ours reaches every instance at
    # once over the bus, any other change to the rows within this bound. 0 = always read.
    sign_in_cache_seconds: float = Field(5.0, ge=0, le=60)


class BusSettings(Section):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: SecretStr | None = None
    channel_prefix: str = "mediahub:"


class JobsSettings(Section):
    backend: Literal["inprocess", "arq"] = "inprocess"
    redis_url: SecretStr | None = None
    queue_name: str = "mediahub:jobs"
    concurrency: int = Field(2, ge=1)
    max_tries: int = Field(3, ge=1)
    retry_backoff: float = Field(5.0, ge=0)
    # A running job whose worker stops renewing its lease for this long is run again.
    lease_seconds: float = Field(60.0, gt=0)


class PluginsSettings(Section):
    # None = every installed plugin; otherwise only these names.
    enabled: list[str] | None = None
    disabled: list[str] = []
    dirs: list[Path] = []


class StorageBackendSettings(BaseModel):
    """One `[storage.<name>]` table; its other keys are checked by the backend's own model."""

    model_config = ConfigDict(extra="allow")
    type: str


class Settings(Section):
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    auth: AuthSettings = AuthSettings()
    bus: BusSettings = BusSettings()
    jobs: JobsSettings = JobsSettings()
    plugins: PluginsSettings = PluginsSettings()
    # [storage] default = "<name>" plus one [storage.<name>] table per backend.
    storage_default: str = "local"
    storage: dict[str, StorageBackendSettings] = {}
    # Raw [plugins.<name>] tables, validated by each plugin's register_config_sections model.
    plugin_sections: dict[str, dict[str, Any]] = {}
    source: Path | None = None
    # Dotted paths whose value came from `{ env = "NAME" }`: always shown masked.
    secret_paths: set[str] = set()

    @property
    def database_url(self) -> str:
        if self.database.url is not None:
            return self.database.url.get_secret_value()
        return f"sqlite://{(self.server.data_dir / 'mediahub.sqlite3').resolve()}"

    def storage_backends(self) -> dict[str, StorageBackendSettings]:
        """Configured backends, with the embedded local-disk one when none is configured."""
        if self.storage:
            return self.storage
        root = str((self.server.data_dir / "media").resolve())
        return {"local": StorageBackendSettings(type="local-disk", root=root)}

    def plugin_section(self, name: str) -> dict[str, Any]:
        return self.plugin_sections.get(normalise_plugin_name(name), {})


class ConfigError(Exception):
    """Every problem found in a config file, one `section.key: what is wrong` per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def normalise_plugin_name(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None,
                  overrides: dict[str, Any] | None = None) -> Settings:
    """Read TOML (if any), apply MEDIAHUB__SECTION__KEY overrides, resolve secrets, validate."""
    settings, problems = inspect_settings(path, environ, overrides)
    if problems:
        raise ConfigError(problems)
    return settings


def inspect_settings(path: str | Path | None = None, environ: dict[str, str] | None = None,
                     overrides: dict[str, Any] | None = None) -> tuple[Settings, list[str]]:
    """Best-effort settings plus every problem found: one bad section hides no other."""
    environ = dict(os.environ if environ is None else environ)
    raw: dict[str, Any] = {}
    problems: list[str] = []
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Settings(), [f"{path}: file not found"]
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            return Settings(), [f"{path}: not valid TOML: {exc}"]
    apply_env_overrides(raw, environ)
    if overrides:
        deep_merge(raw, overrides)
    secret_paths: set[str] = set()
    raw = resolve_env_secrets(raw, environ, problems, (), secret_paths)
    settings = validate_raw(raw, problems)
    settings.source = Path(path) if path is not None else None
    settings.secret_paths = secret_paths
    return settings, problems


def apply_env_overrides(raw: dict[str, Any], environ: dict[str, str]) -> None:
    for name, value in sorted(environ.items()):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX):].split("__") if part]
        if not path:
            continue
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = parse_env_value(value)


def parse_env_value(value: str) -> Any:
    """`8001` -> 8001, `true` -> True, `["a"]` -> ["a"]; anything not TOML stays a string."""
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def deep_merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value


def resolve_env_secrets(node: Any, environ: dict[str, str], problems: list[str],
                        where: tuple[str, ...], secret_paths: set[str]) -> Any:
    """Replace every `{ env = "NAME" }` table by the variable's value."""
    if isinstance(node, dict):
        if set(node) == {"env"} and isinstance(node["env"], str):
            if node["env"] in environ:
                secret_paths.add(".".join(where))
                return environ[node["env"]]
            problems.append(f"{'.'.join(where)}: environment variable {node['env']} is not set")
            return None
        return {k: resolve_env_secrets(v, environ, problems, where + (k,), secret_paths)
                for k, v in node.items()}
    return node


SECTIONS: dict[str, type[Section]] = {
    "server": ServerSettings, "database": DatabaseSettings, "auth": AuthSettings,
    "bus": BusSettings, "jobs": JobsSettings,
}


def validate_raw(raw: dict[str, Any], problems: list[str]) -> Settings:
    """Validate section by section so every mistake is reported, not just the first section's."""
    values: dict[str, Any] = {}
    valid = set()
    for name in raw:
        if name not in SECTIONS and name not in ("storage", "plugins"):
            close = difflib.get_close_matches(name, [*SECTIONS, "storage", "plugins"], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(f"{name}: unknown section{hint}")
    for name, model in SECTIONS.items():
        table = raw.get(name, {})
        try:
            if not isinstance(table, dict):
                raise TypeError
            values[name] = model.model_validate(table)
            valid.add(name)
        except TypeError:
            problems.append(f"{name}: must be a table ([{name}])")
        except ValidationError as exc:
            problems.extend(describe_validation_error(exc, model, prefix=name))
    storage = dict(raw.get("storage", {}) or {})
    default = storage.pop("default", "local")
    if not isinstance(default, str):
        problems.append(f"storage.default: must be a backend name (got {default!r})")
        default = "local"
    backends = {}
    for name, table in storage.items():
        if not isinstance(table, dict):
            problems.append(f"storage.{name}: must be a table ([storage.{name}])")
        elif not isinstance(table.get("type"), str):
            problems.append(f"storage.{name}.type: required value is missing")
        else:
            backends[name] = StorageBackendSettings.model_validate(table)
    plugins = dict(raw.get("plugins", {}) or {})
    plugin_sections = {normalise_plugin_name(k): v for k, v in plugins.items() if isinstance(v, dict)}
    plugin_options = {k: v for k, v in plugins.items() if not isinstance(v, dict)}
    try:
        values["plugins"] = PluginsSettings.model_validate(plugin_options)
    except ValidationError as exc:
        problems.extend(describe_validation_error(exc, PluginsSettings, prefix="plugins"))
    settings = Settings.model_construct(**{**Settings().__dict__, **values,
                                           "storage_default": default, "storage": backends,
                                           "plugin_sections": plugin_sections})
    if "server" not in valid:  # still check the data dir the file names
        try:
            data_dir = Path(raw.get("server", {}).get("data_dir", "./mediahub-data"))
            settings.server = ServerSettings.model_construct(
                **{**ServerSettings().__dict__, "data_dir": data_dir})
            valid = valid | {"data_dir"}
        except TypeError:
            pass
    check_settings(settings, problems, valid)
    return settings




def describe_validation_error(exc: ValidationError, model: type[BaseModel] | None = None,
                              prefix: str = "", rename: dict[str, str] | None = None) -> list[str]:
    """Turn pydantic's errors into `section.key: what is wrong` lines with suggestions."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        if loc and rename and loc[0] in rename:
            loc[0] = rename[loc[0]]
        where = ".".join(([prefix] if prefix else []) + loc) or prefix or "config"
        if error["type"] == "extra_forbidden":
            message = "unknown key"
            known = known_keys(model, error["loc"][:-1]) if model else []
            close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
        elif error["type"] == "missing":
            message = "required value is missing"
        else:
            message = error["msg"]
            if "input" in error and error["type"] not in ("model_type", "dict_type"):
                message += f" (got {error['input']!r})"
        lines.append(f"{where}: {message}")
    return lines


def known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the sub-model at `loc`, so unknown keys can get a suggestion."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = annotation if isinstance(annotation, type) else None
    return list(getattr(current, "model_fields", {}) or {})


def check_settings(settings: Settings, problems: list[str], valid: set[str]) -> None:
    """Checks pydantic cannot do alone: the data dir is writable, the default backend exists."""
    data_dir = settings.server.data_dir
    probe = data_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if valid & {"server", "data_dir"} and (not os.access(probe, os.W_OK) or not probe.is_dir()):
        problems.append(f"server.data_dir: {data_dir} is not a writable directory")
    backends = settings.storage_backends()
    if settings.storage_default not in backends:
        names = ", ".join(sorted(backends)) or "none"
        problems.append(f"storage.default: no [storage.{settings.storage_default}] table "
                        f"(configured backends: {names})")
    for section, url_field in (("bus", settings.bus), ("jobs", settings.jobs)):
        if section not in valid:
            continue
        needs_redis = getattr(url_field, "backend") in ("redis", "arq")
        if needs_redis and url_field.redis_url is None:
            problems.append(f"{section}.redis_url: required when {section}.backend = "
                            f"'{url_field.backend}'")


def shown(settings: Settings) -> dict[str, Any]:
    """The settings as the TOML spells them, every secret shown as ********."""
    data = masked(settings)
    out = {k: data[k] for k in ("server", "database", "auth", "bus", "jobs")}
    out["plugins"] = {**data["plugins"], **data["plugin_sections"]}
    out["storage"] = {"default": data["storage_default"], **masked(settings.storage_backends())}
    for path in settings.secret_paths:
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and leaf in node:
            node[leaf] = MASK
    return out


def masked(value: Any) -> Any:
    """A JSON-able copy of settings with every secret shown as ********."""
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, BaseModel):
        return {k: masked(getattr(value, k)) for k in type(value).model_fields} | {
            k: masked(v) for k, v in (value.model_extra or {}).items()}
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def secret_value(value: SecretStr | str | None) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value
