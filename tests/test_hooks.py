"""Lifespan and session hooks reach plugins with the documented arguments."""

from __future__ import annotations

from mediahub import hookimpl


class SessionWatcher:
    def __init__(self):
        self.events = []

    @hookimpl
    async def startup(self, app):
        self.events.append(("startup", app.name))

    @hookimpl
    def shutdown(self, app):
        self.events.append(("shutdown", app.name))

    @hookimpl
    def track_changed(self, session_id, previous, current):
        self.events.append(("track_changed", session_id, previous, current))

    @hookimpl
    async def session_ended(self, session_id, reason):
        self.events.append(("session_ended", session_id, reason))


class FailsToStart:
    @hookimpl
    def startup(self, app):
        raise RuntimeError("cannot start")


async def test_startup_and_shutdown_run_with_the_app(tmp_path):
    from mediahub.testing import make_settings, running_app

    watcher = SessionWatcher()
    async with running_app(make_settings(tmp_path), [("watcher", watcher)]) as app:
        assert watcher.events == [("startup", "mediahub")]
    assert watcher.events[-1] == ("shutdown", "mediahub")


async def test_a_plugin_failing_at_startup_is_disabled_and_the_app_serves(mediahub_app_factory):
    app = await mediahub_app_factory(plugins=[("fails", FailsToStart())])
    record = app.extensions["mediahub"].plugins.records["fails"]
    assert record.status == "failed" and "cannot start" in record.reason
    assert (await app.test_client().get("/healthz")).status_code == 200


async def test_session_hooks_reach_every_plugin(mediahub_app_factory):
    watcher = SessionWatcher()
    app = await mediahub_app_factory(plugins=[("watcher", watcher)])
    host = app.extensions["mediahub"]
    await host.call_hook("track_changed", session_id="p1", previous={"media_id": "a"},
                         current={"media_id": "b"})
    await host.call_hook("session_ended", session_id="p1", reason="host_ended")
    assert ("track_changed", "p1", {"media_id": "a"}, {"media_id": "b"}) in watcher.events
    assert ("session_ended", "p1", "host_ended") in watcher.events
