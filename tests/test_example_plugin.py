"""The third-party example in examples/ works once pip-installed: page, API route, cleanup."""

from __future__ import annotations

import importlib.metadata
import time

import pytest
from click.testing import CliRunner

from mediahub.cli import main

pytestmark = pytest.mark.skipif(
    not any(ep.name == "greeter" for ep in importlib.metadata.entry_points(group="mediahub")),
    reason="examples/mediahub-example-greeter is not installed (scripts/test installs it)")


def test_installed_example_is_found_through_its_entry_point(tmp_path):
    result = CliRunner().invoke(main, ["plugins", "--json"],
                                env={"MEDIAHUB__SERVER__DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert '"name": "greeter"' in result.output
    assert '"status": "enabled"' in result.output


async def test_example_api_route_and_page(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"plugins": {"greeter": {"greeting": "Hi"}}})
    client = app.test_client()
    created = await client.post("/api/greeter/greetings", json={"name": "<b>Ada</b>"})
    assert created.status_code == 201
    assert (await created.get_json())["message"] == "Hi, <b>Ada</b>!"
    listed = await (await client.get("/api/greeter/greetings")).get_json()
    assert [g["name"] for g in listed["greetings"]] == ["<b>Ada</b>"]

    page = await client.get("/greeter")
    html = (await page.get_data()).decode()
    assert page.status_code == 200
    assert "Hi, &lt;b&gt;Ada&lt;/b&gt;!" in html  # escaped, inside the host layout
    assert 'href="/greeter"' in html  # its nav item is in the site menu

    bad = await client.post("/api/greeter/greetings", json={"name": ""})
    assert bad.status_code == 400
    assert (await bad.get_json())["error"]["code"] == "invalid_request"


async def test_example_cleanup_hook_runs_in_the_sweep(mediahub_app_factory):
    from mediahub.scheduler import run_sweep

    app = await mediahub_app_factory(overrides={"plugins": {"greeter": {"keep_seconds": 60}}})
    client = app.test_client()
    await client.post("/api/greeter/greetings", json={"name": "old"})
    host = app.extensions["mediahub"]
    async with app.app_context():
        now_counts = await run_sweep(host, now=time.time())
        later_counts = await run_sweep(host, now=time.time() + 120)
    assert now_counts.get("greetings", 0) == 0
    assert later_counts["greetings"] == 1
    listed = await (await client.get("/api/greeter/greetings")).get_json()
    assert listed["greetings"] == []
