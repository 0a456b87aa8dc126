"""The one way every hook is called: pluggy's order, arguments, wrappers and firstresult, async impls awaited.

pluggy's own call loop (``pluggy._callers._multicall``) is synchronous: it cannot await an
``async def`` implementation, and its ``firstresult`` stops at the first coroutine (a
coroutine is never None). This module is that loop with one change — the result of each
implementation is awaited before it is looked at — so that everything else stays pluggy's:
the implementations and their order come from ``HookCaller.get_hookimpls()``
(``tryfirst``/``trylast``, newest first), arguments are picked by each impl's
``argnames``/``kwargnames``, ``firstresult=True`` on a spec stops calling at the first
non-None result and hands wrappers a single value, and wrappers (``wrapper=True`` and
old-style ``hookwrapper=True``) are plain generators run around the awaited results exactly
as pluggy runs them. Calling ``pm.hook.<name>(...)`` directly is therefore not supported
for hooks that may be async.

Registration hooks run before an event loop exists: ``call_now`` drives the same
coroutine to its end without a loop and refuses an ``async def`` implementation.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Generator
from typing import Any

import pluggy

log = logging.getLogger("mediahub.plugins")

# (plugin name, exception) -> None; None means "let it propagate".
ErrorPolicy = Callable[[str, Exception], None] | None


class HookDispatcher:
    """Calls the hooks of one plugin manager; the spec's flags decide how."""

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm

    def caller(self, name: str) -> pluggy.HookCaller | None:
        """The hook's caller if some loaded plugin (or the host) declared its spec."""
        caller = getattr(self.pm.hook, name, None)
        if not isinstance(caller, pluggy.HookCaller) or caller.spec is None:
            return None
        return caller

    def is_firstresult(self, name: str) -> bool:
        caller = self.caller(name)
        return bool(caller and caller.spec.opts.get("firstresult"))

    async def call(self, name: str, kwargs: dict[str, Any], *, first: bool = False,
                   on_error: ErrorPolicy = None, only: object = None,
                   sync: bool = False) -> list[tuple[str, Any]]:
        """Run the hook; (plugin name, result) for each non-None result, in call order.

        `first` stops at the first non-None result even when the spec does not say so.
        `on_error(plugin_name, exc)` isolates a failing implementation (the others still
        run); without it the exception propagates through the wrappers, as in pluggy.
        `only` restricts the (non-wrapper) implementations to one plugin object.
        """
        caller = self.caller(name)
        if caller is None:  # the owning plugin is disabled or absent: nobody to ask
            return []
        spec_first = bool(caller.spec.opts.get("firstresult"))
        stop_at_first = first or spec_first
        impls = [impl for impl in reversed(caller.get_hookimpls())
                 if only is None or impl.hookwrapper or impl.wrapper or impl.plugin is only]

        pairs: list[tuple[str, Any]] = []
        teardowns: list[tuple[str, Generator]] = []
        exception: BaseException | None = None
        try:
            for impl in impls:
                args, extra = arguments(name, impl, kwargs)
                if impl.hookwrapper or impl.wrapper:
                    teardowns.append((impl.plugin_name, start_wrapper(impl, args, extra)))
                    continue
                try:
                    result = impl.function(*args, **extra)
                    if inspect.isawaitable(result):
                        if sync:
                            close(result)
                            raise TypeError(f"the {name} hook must not be async")
                        result = await result
                except Exception as exc:
                    if on_error is None:
                        raise
                    on_error(impl.plugin_name, exc)
                    continue
                if result is not None:
                    pairs.append((impl.plugin_name, result))
                    if stop_at_first:
                        break
        except BaseException as exc:
            exception = exc

        if not teardowns:
            if exception is not None:
                raise exception
            return pairs

        # Wrappers see what pluggy would hand them: one value for a firstresult spec, else a list.
        names = {id(value): plugin for plugin, value in pairs}
        values = [value for _, value in pairs]
        result: Any = (values[0] if values else None) if spec_first else values
        for wrapper_plugin, teardown in reversed(teardowns):
            try:
                if exception is not None:
                    teardown.throw(exception)
                else:
                    teardown.send(result)
                teardown.close()
            except StopIteration as done:
                result, exception = done.value, None
                continue
            except BaseException as exc:
                exception = exc
                continue
            exception = RuntimeError(f"hook wrapper of {wrapper_plugin} for {name} has a second yield")
        if exception is not None:
            raise exception
        final = ([] if result is None else [result]) if spec_first else list(result or [])
        if first:
            final = final[:1]
        return [(names.get(id(value), name), value) for value in final if value is not None]


def arguments(hook_name: str, impl, kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    try:
        args = [kwargs[arg] for arg in impl.argnames]
    except KeyError as missing:
        raise pluggy.HookCallError(
            f"hook {hook_name} call must provide argument {missing.args[0]!r}") from None
    extra = {arg: kwargs[arg] for arg in impl.kwargnames if arg in kwargs}
    return args, extra


def start_wrapper(impl, args: list[Any], extra: dict[str, Any]) -> Generator:
    """Run a wrapper up to its yield; old-style ones get a `pluggy.Result` back, as in pluggy."""
    generator = impl.function(*args, **extra)
    if impl.hookwrapper:
        generator = old_style(generator)
    try:
        next(generator)
    except StopIteration:
        raise RuntimeError(f"hook wrapper {impl.function.__qualname__} did not yield") from None
    return generator


def old_style(teardown: Generator) -> Generator:
    """An old-style `hookwrapper` seen as a new-style wrapper (pluggy does the same)."""
    next(teardown)
    try:
        outcome = pluggy.Result((yield), None)
    except BaseException as exc:
        outcome = pluggy.Result(None, exc)
    try:
        teardown.send(outcome)
    except StopIteration:
        pass
    else:
        raise RuntimeError("old-style hook wrapper has a second yield")
    finally:
        teardown.close()
    return outcome.get_result()


def close(awaitable: Any) -> None:
    if hasattr(awaitable, "close"):
        awaitable.close()


def call_now(coroutine) -> Any:
    """Run a coroutine that never suspends (the sync dispatch) to its end, without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a registration hook suspended; registration hooks must be plain functions")


def log_failure(hook_name: str) -> Callable[[str, Exception], None]:
    def report(plugin_name: str, exc: Exception) -> None:
        log.error("plugin %s: hook %s failed", plugin_name, hook_name, exc_info=exc)
    return report
