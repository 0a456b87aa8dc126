"""The one hook dispatcher: the spec's flags decide (firstresult, wrappers, async impls), as pluggy would."""

from __future__ import annotations

import types

import pluggy
import pytest

import mediahub
from mediahub import hookimpl, hookspec
from mediahub.plugins import PluginHost, PluginStartupError
from mediahub.testing import make_settings


class Specs:
    @hookspec(firstresult=True)
    def pick(self, key):
        """Stops at the first answer."""

    @hookspec
    def collect(self, key):
        """Every answer."""


def owner_plugin(specs=Specs):
    owner = types.SimpleNamespace()
    owner.register_hookspecs = hookimpl(lambda: specs)
    return owner


class Answer:
    def __init__(self, value, calls, name):
        self.value, self.calls, self.name = value, calls, name

    @hookimpl(optionalhook=True)
    async def pick(self, key):
        self.calls.append(self.name)
        return self.value

    @hookimpl(optionalhook=True)
    def collect(self, key):
        self.calls.append(self.name)
        return self.value and f"{self.name}:{key}"


def host_with(tmp_path, *plugins, owner=True, overrides=None) -> PluginHost:
    host = PluginHost(make_settings(tmp_path, overrides))
    extra = ([("owner", owner_plugin())] if owner else []) + list(plugins)
    host.load(extra)
    return host


async def test_a_firstresult_spec_stops_at_the_first_awaited_answer_whoever_calls(tmp_path):
    calls = []
    host = host_with(tmp_path, ("none", Answer(None, calls, "none")),
                     ("late", Answer("late", calls, "late")), ("early", Answer(None, calls, "early")))
    # Newest first: early (None, an awaited coroutine's result — not the coroutine), then late.
    assert await host.first_result("pick", key=1) == "late"
    assert calls == ["early", "late"]
    calls.clear()
    assert await host.call_hook("pick", key=1) == ["late"]  # the spec decides, not the helper
    assert calls == ["early", "late"]


async def test_a_plain_spec_collects_every_answer_and_first_result_stops_early(tmp_path):
    calls = []
    host = host_with(tmp_path, ("a", Answer(True, calls, "a")), ("b", Answer(True, calls, "b")))
    assert await host.call_hook("collect", key=7) == ["b:7", "a:7"]
    calls.clear()
    assert await host.first_result("collect", key=7) == "b:7" and calls == ["b"]


class Wrappers:
    def __init__(self):
        self.seen = []

    @hookimpl(wrapper=True, optionalhook=True)
    def collect(self, key):
        results = yield
        self.seen.append(("new", list(results)))
        return results + ["added by wrapper"]

    @hookimpl(hookwrapper=True, optionalhook=True)
    def pick(self, key):
        outcome = yield
        self.seen.append(("old", outcome.get_result()))
        outcome.force_result(f"wrapped {outcome.get_result()}")


async def test_wrappers_run_around_the_awaited_results(tmp_path):
    calls, wrappers = [], Wrappers()
    host = host_with(tmp_path, ("a", Answer("a", calls, "a")), ("wrap", wrappers))
    assert await host.call_hook("collect", key=1) == ["a:1", "added by wrapper"]
    assert await host.first_result("pick", key=1) == "wrapped a"
    assert wrappers.seen == [("new", ["a:1"]), ("old", "a")]


def test_with_sync_impls_the_dispatcher_answers_exactly_as_pluggy(tmp_path):
    class SyncAnswer:
        def __init__(self, value):
            self.value = value

        @hookimpl(optionalhook=True)
        def collect(self, key):
            return self.value

    class SyncWrapper:
        @hookimpl(wrapper=True, optionalhook=True)
        def collect(self, key):
            return [f"<{r}>" for r in (yield)]

    plugins = [("one", SyncAnswer("one")), ("none", SyncAnswer(None)), ("two", SyncAnswer("two")),
               ("wrap", SyncWrapper())]
    host = host_with(tmp_path, *plugins)
    ours = [value for _, value in host.call_sync("collect", key=0)]
    assert ours == host.pm.hook.collect(key=0) == ["<two>", "<one>"]


async def test_an_undeclared_hook_answers_nothing_and_its_implementers_still_load(tmp_path):
    calls = []
    host = host_with(tmp_path, ("a", Answer("a", calls, "a")), owner=False)
    assert host.records["a"].status == "enabled"
    assert await host.call_hook("pick", key=1) == []
    assert await host.first_result("pick", key=1) is None
    assert calls == []


def test_implementing_an_absent_plugins_hook_without_optionalhook_says_how_to_fix_it(tmp_path):
    class Forgot:
        @hookimpl
        def pick(self, key):
            return 1

    with pytest.raises(PluginStartupError, match=r"plugin forgot: hook 'pick'.*optionalhook=True"):
        host_with(tmp_path, ("forgot", Forgot()), owner=False)


def test_an_implementation_with_arguments_the_owned_spec_lacks_stops_startup(tmp_path):
    class BadArgs:
        @hookimpl(optionalhook=True)
        def pick(self, key, colour):
            return 1

    with pytest.raises(PluginStartupError, match=r"(?s)plugin bad:.*pick.*colour"):
        host_with(tmp_path, ("bad", BadArgs()))


def test_registration_hooks_must_not_be_async(tmp_path):
    class AsyncRoutes:
        @hookimpl
        async def register_models(self):
            return {}

    host = host_with(tmp_path, ("async-routes", AsyncRoutes()))
    assert "async-routes" not in [name for name, _ in host.call_sync("register_models")]
    record = host.records["async-routes"]
    assert record.status == "failed" and "must not be async" in record.reason


class AppHooks:
    @hookimpl
    def register_hookspecs(self):
        return Specs

    @hookimpl(optionalhook=True)
    async def pick(self, key):
        return None if key == "nobody" else f"picked {key}"

    @hookimpl(optionalhook=True)
    def collect(self, key):
        return key


async def test_the_public_helpers_call_the_running_apps_hooks(mediahub_app_factory):
    app = await mediahub_app_factory(plugins=[("app-hooks", AppHooks())])
    async with app.app_context():
        assert await mediahub.first_result("pick", key="x") == "picked x"
        assert await mediahub.first_result("pick", key="nobody") is None
        assert await mediahub.call_hook("collect", key="y") == ["y"]
        assert await mediahub.call_hook("no_such_hook", key=1) == []
        assert await mediahub.first_result("no_such_hook") is None
        # The host object's helpers are the same dispatcher.
        assert await mediahub.current_host().first_result("pick", key="z") == "picked z"


def test_the_markers_are_pluggys_for_the_mediahub_project():
    assert isinstance(mediahub.hookspec, pluggy.HookspecMarker)
    assert mediahub.hookspec.project_name == mediahub.hookimpl.project_name == "mediahub"
