"""The plugin host: loading, status, config sections, hook validation and the call helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from mediahub import hookimpl
from mediahub.cli import main
from mediahub.plugins import PluginHost, PluginStartupError
from mediahub.testing import make_settings

PLUGIN_DIRS = Path(__file__).parent / "plugins"


def host_for(tmp_path, overrides=None, extra=()):
    host = PluginHost(make_settings(tmp_path, overrides))
    host.load(list(extra))
    return host


class Recorder:
    def __init__(self, name, result=None, fail=False):
        self.name, self.result, self.fail, self.calls = name, result, fail, []

    @hookimpl
    async def cleanup(self, now):
        self.calls.append(now)
        if self.fail:
            raise RuntimeError(f"{self.name} failed")
        return self.result

    @hookimpl
    def stream_url(self, media):
        return self.result and f"https://cdn.example/{self.name}"


def test_builtin_plugins_load_from_entry_points(tmp_path):
    host = host_for(tmp_path)
    record = host.records["local-disk"]
    assert record.status == "enabled"
    assert "register_storage_backends" in record.hooks


def test_plugin_dirs_load_and_a_broken_plugin_is_disabled_with_its_reason(tmp_path):
    host = host_for(tmp_path, {"plugins": {"dirs": [str(PLUGIN_DIRS / "dir_plugins")]}})
    assert host.records["hello_dir"].status == "enabled"
    assert host.records["hello_dir"].hooks == ["register_routes"]
    broken = host.records["explodes"]
    assert broken.status == "failed"
    assert "boom at import" in broken.reason


async def test_server_still_starts_and_serves_with_a_broken_plugin(mediahub_app_factory, tmp_path):
    app = await mediahub_app_factory(overrides={"plugins": {"dirs": [str(PLUGIN_DIRS / "dir_plugins")]}})
    client = app.test_client()
    assert (await client.get("/hello-dir")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200


def test_misspelled_hook_stops_startup_naming_plugin_and_hook(tmp_path):
    with pytest.raises(PluginStartupError, match=r"plugin typo: hook 'cleanpu' is not a mediahub hook"):
        host_for(tmp_path, {"plugins": {"dirs": [str(PLUGIN_DIRS / "typo_dir")]}})


def test_hookimpl_with_an_argument_the_spec_lacks_stops_startup(tmp_path):
    class BadArgs:
        @hookimpl
        def cleanup(self, now, when):
            return {}

    with pytest.raises(PluginStartupError, match=r"(?s)plugin bad-args:.*cleanup.*when"):
        host_for(tmp_path, extra=[("bad-args", BadArgs())])


def test_disabled_by_config(tmp_path):
    host = host_for(tmp_path, {"plugins": {"disabled": ["recorder"]}}, extra=[("recorder", Recorder("r"))])
    assert host.records["recorder"].status == "disabled"
    assert host.records["recorder"].reason == "disabled by config"
    assert "recorder" not in [name for name, _ in host.implementations("cleanup")]


def test_enabled_list_keeps_only_named_plugins(tmp_path):
    host = host_for(tmp_path, {"plugins": {"enabled": ["local-disk"]}}, extra=[("recorder", Recorder("r"))])
    assert host.records["local-disk"].status == "enabled"
    assert host.records["recorder"].status == "disabled"


class Limits(BaseModel):
    model_config = {"extra": "forbid"}
    max_items: int = 10


class Configured:
    @hookimpl
    def register_config_sections(self):
        return {"configured": Limits}


def test_plugin_config_section_is_validated_and_exposed(tmp_path):
    host = host_for(tmp_path, {"plugins": {"configured": {"max_items": 3}}}, extra=[("configured", Configured())])
    assert host.plugin_config("configured").max_items == 3


def test_invalid_plugin_config_disables_only_that_plugin(tmp_path):
    host = host_for(tmp_path, {"plugins": {"configured": {"max_itemz": 3}}},
                    extra=[("configured", Configured())])
    record = host.records["configured"]
    assert record.status == "failed"
    assert "plugins.configured.max_itemz: unknown key; did you mean 'max_items'?" in record.reason
    assert host.records["local-disk"].status == "enabled"


async def test_call_hook_isolates_a_failing_plugin(tmp_path):
    good, bad = Recorder("good", {"things": 2}), Recorder("bad", fail=True)
    host = host_for(tmp_path, extra=[("good", good), ("bad", bad)])
    results = await host.call_hook("cleanup", now=123.0)
    assert results == [{"things": 2}]
    assert good.calls == [123.0] and bad.calls == [123.0]
    with pytest.raises(RuntimeError, match="bad failed"):
        await host.call_hook("cleanup", now=1.0, raise_errors=True)


async def test_first_result_stops_at_the_first_non_none(tmp_path):
    first, second = Recorder("first", result=None), Recorder("second", result=True)
    host = host_for(tmp_path, extra=[("first", first), ("second", second)])
    # Newest registration is called first; "second" answers, so "first" never matters.
    assert await host.first_result("stream_url", media=None, user=None) == "https://cdn.example/second"


def test_plugins_command_lists_status_reason_and_hooks(tmp_path):
    config = tmp_path / "mediahub.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path}/data"\n'
                      f'[plugins]\ndirs = ["{PLUGIN_DIRS / "dir_plugins"}"]\n')
    result = CliRunner().invoke(main, ["-c", str(config), "plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["local-disk"]["status"] == "enabled"
    assert rows["explodes"]["status"] == "failed"
    assert "boom at import" in rows["explodes"]["reason"]
    human = CliRunner().invoke(main, ["-c", str(config), "plugins"])
    assert "failed: import failed" in human.output
    assert "hooks: register_routes" in human.output


def test_plugins_command_reports_a_misspelled_hook_and_fails(tmp_path):
    config = tmp_path / "mediahub.toml"
    config.write_text(f'[plugins]\ndirs = ["{PLUGIN_DIRS / "typo_dir"}"]\n')
    result = CliRunner().invoke(main, ["-c", str(config), "plugins"])
    assert result.exit_code != 0
    assert "hook 'cleanpu' is not a mediahub hook" in result.output
