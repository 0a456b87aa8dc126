"""Config loading: the example file is valid, every mistake is reported, secrets stay hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediahub.config import ConfigError, inspect_settings, load_settings, shown

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mediahub.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_valid_against_the_schema():
    settings = load_settings(ROOT / "config.example.toml", environ={})
    assert settings.server.port == 8000
    assert settings.storage_default == "local"
    assert settings.storage["local"].type == "local-disk"


def test_example_config_documents_every_option():
    """Every key of every section appears in config.example.toml (commented or not)."""
    from mediahub.config import SECTIONS, PluginsSettings

    text = (ROOT / "config.example.toml").read_text()
    for section, model in {**SECTIONS, "plugins": PluginsSettings}.items():
        assert f"[{section}]" in text
        for key in model.model_fields:
            assert f"{key} =" in text, f"{section}.{key} is not documented in config.example.toml"



def test_example_config_documents_every_plugin_option():
    """Every built-in plugin's `[plugins.<name>]` keys, and the S3 backend's, are in the file."""
    from mediahub.plugins import PluginHost
    from mediahub_s3_renders.settings import S3Settings

    text = (ROOT / "config.example.toml").read_text()
    plugins = PluginHost(load_settings(None, environ={}))
    plugins.load()
    sections = {section: model for _, answer in plugins.call_sync("register_config_sections")
                for section, model in answer.items() if section != "greeter"}  # the example's own
    assert {"listen_party", "hls_transcode", "s3_renders", "library_sync", "cloudinary_temp"} <= set(sections)
    for section, model in {**sections, "storage.s3": S3Settings}.items():
        assert f"[{section if section == 'storage.s3' else 'plugins.' + section}]" in text
        for key in model.model_fields:
            assert f"# {key} =" in text or f"\n{key} =" in text, \
                f"{section}.{key} is not documented in config.example.toml"


def test_defaults_need_no_file(tmp_path):
    settings = load_settings(None, environ={"MEDIAHUB__SERVER__DATA_DIR": str(tmp_path)})
    assert settings.database_url.startswith("sqlite://")
    assert settings.storage_backends()["local"].type == "local-disk"


def test_every_mistake_is_reported_at_once(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = write(tmp_path, f"""
[server]
prot = 8000
port = "eighty"
data_dir = "{blocker}/data"
[jobs]
backend = "arq"
[storage]
default = "missing"
[storage.main]
[sevrer]
x = 1
""")
    _, problems = inspect_settings(path, environ={})
    text = "\n".join(problems)
    assert "server.prot: unknown key; did you mean 'port'?" in text
    assert "server.port:" in text and "'eighty'" in text
    assert f"server.data_dir: {blocker}/data is not a writable directory" in text
    assert "jobs.redis_url: required when jobs.backend = 'arq'" in text
    assert "storage.main.type: required value is missing" in text
    assert "sevrer: unknown section; did you mean 'server'?" in text
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={})
    assert raised.value.problems == problems


def test_secret_from_environment_is_masked_when_shown(tmp_path):
    path = write(tmp_path, '[database]\nurl = { env = "DB_URL" }\n'
                           '[storage.local]\ntype = "local-disk"\nsecret = { env = "S" }\n')
    settings = load_settings(path, environ={"DB_URL": "postgres://u:pw@h/db", "S": "shh"})
    assert settings.database_url == "postgres://u:pw@h/db"
    rendered = str(shown(settings))
    assert "pw@h" not in rendered and "shh" not in rendered
    assert shown(settings)["database"]["url"] == "********"
    assert shown(settings)["storage"]["local"]["secret"] == "********"


def test_missing_environment_secret_is_an_error(tmp_path):
    path = write(tmp_path, '[database]\nurl = { env = "NOPE_NOT_SET" }\n')
    with pytest.raises(ConfigError, match="database.url: environment variable NOPE_NOT_SET is not set"):
        load_settings(path, environ={})


def test_environment_overrides_any_key(tmp_path):
    path = write(tmp_path, "[server]\nport = 8000\n")
    settings = load_settings(path, environ={
        "MEDIAHUB__SERVER__PORT": "9001",
        "MEDIAHUB__AUTH__ALLOW_SIGNUP": "false",
        "MEDIAHUB__PLUGINS__DISABLED": '["x"]',
        "MEDIAHUB__STORAGE__LOCAL__TYPE": "local-disk",
        "MEDIAHUB__STORAGE__LOCAL__ROOT": "/srv/media",
    })
    assert settings.server.port == 9001
    assert settings.auth.allow_signup is False
    assert settings.plugins.disabled == ["x"]
    assert settings.storage["local"].model_extra["root"] == "/srv/media"


def test_unreadable_toml_is_reported(tmp_path):
    path = write(tmp_path, "[server\nport = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path, environ={})
