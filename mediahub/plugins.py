"""Find, load and call plugins: entry points, plugin dirs, status, and the two call helpers."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError

from mediahub import hookspecs
from mediahub.config import Settings, describe_validation_error, normalise_plugin_name
from mediahub.dispatch import HookDispatcher, call_now, log_failure

log = logging.getLogger("mediahub.plugins")

ENTRY_POINT_GROUP = "mediahub"


class PluginStartupError(Exception):
    """A plugin cannot be loaded in a way that must stop startup (a misspelled hook)."""


@dataclass
class PluginRecord:
    """What `mediahub plugins` shows for one plugin."""

    name: str
    source: str  # "entry point", "dir: <path>", "registered"
    status: str = "enabled"  # enabled | disabled | failed
    reason: str = ""
    hooks: list[str] = field(default_factory=list)
    plugin: Any = None


class PluginHost:
    """The app's plugin manager: nothing registers at import, everything through here."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.pm = pluggy.PluginManager("mediahub")
        self.pm.add_hookspecs(hookspecs)
        self.dispatcher = HookDispatcher(self.pm)
        self.records: dict[str, PluginRecord] = {}
        self.plugin_configs: dict[str, BaseModel] = {}
        # Every [plugins.<section>] a loaded plugin declared -> that plugin, valid or not.
        self.declared_sections: dict[str, str] = {}
        self._spec_modules: list[Any] = []

    # -- loading ---------------------------------------------------------------------

    def load(self, extra: list[tuple[str, Any]] = ()) -> None:
        """Load entry points, then plugin dirs, then `extra`; validate hooks and config."""
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            self._load_one(entry_point.name, "entry point", entry_point.load)
        for directory in self.settings.plugins.dirs:
            for name, loader in discover_dir(Path(directory)):
                self._load_one(name, f"dir: {directory}", loader)
        for name, plugin in extra:
            self._load_one(name, "registered", lambda plugin=plugin: plugin)
        self._add_plugin_hookspecs()
        self.check_pending()
        self._validate_config_sections()

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Register one plugin object after load() (test kits, embedding)."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        self._load_one(name, "registered", lambda: plugin)
        self._add_plugin_hookspecs()
        self.check_pending()
        self._validate_config_sections()

    def _load_one(self, name: str, source: str, loader) -> None:
        if name in self.records and self.records[name].status == "enabled":
            log.warning("plugin %s already loaded from %s; ignoring %s", name,
                        self.records[name].source, source)
            return
        record = PluginRecord(name=name, source=source)
        self.records[name] = record
        if not self._is_enabled(name):
            record.status, record.reason = "disabled", "disabled by config"
            return
        try:
            plugin = loader()
        except Exception as exc:  # a broken plugin must not stop the server
            record.status, record.reason = "failed", f"import failed: {exc!r}"
            log.error("plugin %s failed to import: %r", name, exc)
            return
        record.plugin = plugin
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginStartupError(f"plugin {name}: {exc}") from exc
        except ValueError as exc:  # the same module registered under two names
            record.status, record.reason = "failed", str(exc)
            return
        record.hooks = sorted(impl.name for impl in self._hookcallers(plugin))

    def _hookcallers(self, plugin) -> list:
        return self.pm.get_hookcallers(plugin) or []

    def _is_enabled(self, name: str) -> bool:
        wanted = normalise_plugin_name(name)
        cfg = self.settings.plugins
        if wanted in {normalise_plugin_name(n) for n in cfg.disabled}:
            return False
        if cfg.enabled is not None:
            return wanted in {normalise_plugin_name(n) for n in cfg.enabled}
        return True

    def _add_plugin_hookspecs(self) -> None:
        """The hooks plugins own (`register_hookspecs`), added before anything is checked."""
        for plugin_name, declared in self.call_sync("register_hookspecs"):
            for module in declared if isinstance(declared, (list, tuple)) else [declared]:
                if module in self._spec_modules:
                    continue
                self._spec_modules.append(module)
                try:
                    self.pm.add_hookspecs(module)
                except pluggy.PluginValidationError as exc:
                    raise PluginStartupError(f"plugin {self.pm.get_name(exc.plugin)}: {exc}") from exc
                except ValueError as exc:  # declares no hook, or one twice
                    self.disable(plugin_name, f"register_hookspecs: {exc}")

    def check_pending(self) -> None:
        """A hookimpl that matches no hookspec (a typo) or takes an unknown argument stops startup."""
        for name, caller in self.pm.hook.__dict__.items():
            if name.startswith("_") or not isinstance(caller, pluggy.HookCaller):
                continue
            if caller.spec is None:
                for impl in caller.get_hookimpls():
                    if not impl.hookwrapper and not impl.wrapper and not impl.optionalhook:
                        plugin = self.pm.get_name(impl.plugin)
                        raise PluginStartupError(
                            f"plugin {plugin}: hook '{name}' is not a mediahub hook "
                            f"(misspelled? known hooks: {', '.join(self.hook_names())}; "
                            f"another plugin's hook: mark it @hookimpl(optionalhook=True) "
                            f"so this plugin loads without that one)")

    def _validate_config_sections(self) -> None:
        for name, record in list(self.records.items()):
            if record.status != "enabled" or record.plugin is None:
                continue
            for _, sections in self.call_sync("register_config_sections", only=record.plugin):
                problems: list[str] = []
                try:
                    for section, model in sections.items():
                        # Declared even when its table is wrong: `config check` then reports the
                        # wrong value, not "this plugin has no settings".
                        self.declared_sections.setdefault(section, name)
                        if section in self.plugin_configs:
                            continue
                        raw = self.settings.plugin_section(section)
                        try:
                            self.plugin_configs[section] = model.model_validate(raw)
                        except ValidationError as exc:  # every section's mistakes, not the first's
                            problems += describe_validation_error(exc, model,
                                                                  prefix=f"plugins.{section}")
                except Exception as exc:
                    self.disable(name, f"register_config_sections failed: {exc!r}")
                    continue
                if problems:
                    self.disable(name, "invalid config: " + "; ".join(problems))

    def disable(self, name: str, reason: str) -> None:
        record = self.records[name]
        record.status, record.reason = "failed", reason
        if record.plugin is not None and self.pm.is_registered(record.plugin):
            self.pm.unregister(record.plugin)
        log.error("plugin %s disabled: %s", name, reason)

    def plugin_config(self, section: str) -> Any:
        return self.plugin_configs[section]

    def enabled(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if r.status == "enabled"]

    # -- calling: one dispatcher (mediahub.dispatch), the spec's flags decide -------------

    def implementations(self, hook_name: str) -> list[tuple[str, Any]]:
        """(plugin name, impl) in call order: tryfirst, newest, ..., trylast (wrappers left out)."""
        caller = getattr(self.pm.hook, hook_name, None)
        if caller is None:
            return []
        impls = [i for i in caller.get_hookimpls() if not (i.hookwrapper or i.wrapper)]
        return [(i.plugin_name, i) for i in reversed(impls)]

    async def call_hook(self, hook_name: str, *, raise_errors: bool = False, **kwargs) -> list[Any]:
        """Every implementation's result that is not None (async ones awaited), in call order.

        A spec marked ``firstresult=True`` stops at the first such result. With
        raise_errors=False (notifications) one plugin raising is logged and the others
        still run; with True the first exception propagates. A hook nobody declared (its
        owning plugin is disabled or absent) returns [].
        """
        on_error = None if raise_errors else log_failure(hook_name)
        pairs = await self.dispatcher.call(hook_name, kwargs, on_error=on_error)
        return [result for _, result in pairs]

    async def first_result(self, hook_name: str, **kwargs) -> Any:
        """The first non-None result, in call order; later implementations are not called.

        Exceptions propagate (the caller is waiting for an answer); an undeclared hook
        returns None.
        """
        pairs = await self.dispatcher.call(hook_name, kwargs, first=True)
        return pairs[0][1] if pairs else None

    async def call_each(self, hook_name: str, **kwargs) -> None:
        """Lifespan hooks (`startup`): a plugin raising is disabled (and logged), the rest run."""
        def disable(plugin_name: str, exc: Exception) -> None:
            log.error("plugin %s: %s failed", plugin_name, hook_name, exc_info=exc)
            self.disable(plugin_name, f"{hook_name} failed: {exc!r}")

        await self.dispatcher.call(hook_name, kwargs, on_error=disable)

    def call_sync(self, hook_name: str, only: Any = None, **kwargs) -> list[tuple[str, Any]]:
        """Registration hooks that run before an event loop exists (app and CLI build).

        The same dispatcher, driven without a loop; an ``async def`` implementation is
        refused. Returns (plugin name, result) pairs; a plugin raising is disabled and
        reported, the others still answer.
        """
        def disable(plugin_name: str, exc: Exception) -> None:
            self.disable(plugin_name, f"{hook_name} failed: {exc!r}")

        return call_now(self.dispatcher.call(hook_name, kwargs, on_error=disable, only=only,
                                             sync=True))

    def hook_names(self) -> list[str]:
        """Every declared hook: the host's and those the loaded plugins own."""
        return sorted(name for name, caller in vars(self.pm.hook).items()
                      if isinstance(caller, pluggy.HookCaller) and caller.spec is not None)


def hook_names() -> list[str]:
    """The hooks the host itself declares (plugins may own more: `PluginHost.hook_names`)."""
    return sorted(n for n, f in vars(hookspecs).items()
                  if callable(f) and hasattr(f, "mediahub_spec"))


def discover_dir(directory: Path) -> list[tuple[str, Any]]:
    """Each `name.py` or package `name/` in a plugin dir is one plugin, imported lazily."""
    found = []
    if not directory.is_dir():
        log.warning("plugin dir %s does not exist", directory)
        return found
    for path in sorted(directory.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if path.suffix == ".py":
            found.append((path.stem, lambda path=path: import_path(path.stem, path)))
        elif (path / "__init__.py").exists():
            found.append((path.name, lambda path=path: import_path(path.name, path / "__init__.py")))
    return found


def import_path(name: str, path: Path):
    module_name = f"mediahub_dir_plugin_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path,
                                                  submodule_search_locations=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
