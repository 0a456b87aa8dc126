"""s3-renders fixtures: a signed-in app on local-disk, or one per storage backend (local-disk and S3)."""

from __future__ import annotations

import pytest

from tests.support.renders import Env, app_overrides


@pytest.fixture(params=["local", "s3"])
async def env(request, mediahub_app_factory, tmp_path):
    s3_table = request.getfixturevalue("s3_settings") if request.param == "s3" else None
    overrides, table = app_overrides(request.param, tmp_path, s3_table)
    return await Env(await mediahub_app_factory(overrides=overrides), request.param, table).sign_in()


@pytest.fixture
async def local(mediahub_app_factory, tmp_path):
    overrides, table = app_overrides("local", tmp_path, None)
    return await Env(await mediahub_app_factory(overrides=overrides), "local", table).sign_in()
