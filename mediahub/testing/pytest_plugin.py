"""pytest fixtures for mediahub plugin authors (installed as the `mediahub` pytest11 plugin).

    async def test_my_route(mediahub_app_factory):
        app = await mediahub_app_factory(plugins=[("my-plugin", my_plugin)])
        client = app.test_client()
        assert (await client.get("/my/route")).status_code == 200
"""

from __future__ import annotations

import contextlib

import pytest

from mediahub.testing import make_settings, running_app


@pytest.fixture
def mediahub_settings(tmp_path):
    """Embedded-default settings with data under the test's tmp_path."""
    return make_settings(tmp_path / "data")


@pytest.fixture
async def mediahub_app_factory(tmp_path):
    """`await factory(plugins=[(name, obj)], overrides={...})` -> a started app.

    Every app made is stopped (lifespan shutdown) when the test ends.
    """
    async with contextlib.AsyncExitStack() as stack:
        async def factory(plugins=(), overrides=None, settings=None):
            settings = settings or make_settings(tmp_path / "data", overrides)
            return await stack.enter_async_context(running_app(settings, plugins))

        yield factory


@pytest.fixture
async def mediahub_app(mediahub_app_factory):
    """A started app with the installed plugins."""
    return await mediahub_app_factory()


@pytest.fixture
def mediahub_client(mediahub_app):
    """A test client for `mediahub_app`."""
    return mediahub_app.test_client()
