"""The compat shims: pinned inside their tested ranges, applied explicitly, logged (not fatal) when they cannot apply."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import mediahub._compat
from mediahub._compat import hypercorn as hypercorn_compat
from mediahub._compat import installed_version
from mediahub._compat import quart as quart_compat
from mediahub._compat import quart_schema as quart_schema_compat
from mediahub._compat import tortoise as tortoise_compat

SHIMS = [quart_compat, hypercorn_compat, tortoise_compat, quart_schema_compat]
PYPROJECT = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
PINS = {Requirement(line).name.lower(): Requirement(line).specifier
        for line in PYPROJECT["project"]["dependencies"]}


@pytest.mark.parametrize("shim", SHIMS, ids=lambda shim: shim.DISTRIBUTION)
def test_the_installed_library_is_one_its_shim_was_verified_with(shim):
    version = installed_version(shim.DISTRIBUTION)
    assert version in SpecifierSet(shim.TESTED), (
        f"{shim.DISTRIBUTION} {version} is outside {shim.__name__}.TESTED ({shim.TESTED}): "
        f"re-verify the shim against it, then widen TESTED and the pin in pyproject.toml")


@pytest.mark.parametrize("shim", SHIMS, ids=lambda shim: shim.DISTRIBUTION)
def test_pyproject_pins_the_library_to_its_shims_range(shim):
    assert PINS[shim.DISTRIBUTION] == SpecifierSet(shim.TESTED), (
        f"pyproject.toml pins {shim.DISTRIBUTION}{PINS[shim.DISTRIBUTION]}, the shim is tested "
        f"with {shim.TESTED}")


async def test_a_started_app_has_every_shim_applied(mediahub_app):
    assert mediahub_app.asgi_http_class is quart_compat.BoundedHTTPConnection
    assert tortoise_compat.is_applied()
    assert quart_schema_compat.is_applied()


async def test_a_returned_dict_is_converted_with_one_adapter_per_type(mediahub_app):
    from quart_schema import conversion

    client = mediahub_app.test_client()
    await client.post("/api/auth/register", json={"username": "alice",
                                                  "password": "correct horse battery"})
    body = await (await client.post("/api/auth/login", json={
        "username": "alice", "password": "correct horse battery"})).get_json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    first = await client.get("/api/auth/me", headers=headers)
    assert (await first.get_json())["username"] == "alice"
    assert conversion.TypeAdapter(dict) is conversion.TypeAdapter(dict)
    assert conversion.TypeAdapter(dict).dump_python({"a": [1]}) == {"a": [1]}
    second = await client.get("/api/auth/me", headers=headers)
    assert await second.get_json() == await first.get_json()


def test_websocket_compression_is_switched_explicitly():
    from hypercorn.protocol import ws_stream

    original = ws_stream.Handshake
    try:
        assert hypercorn_compat.set_websocket_compression(False)
        assert hypercorn_compat.websocket_compression_off()
        assert hypercorn_compat.set_websocket_compression(True)
        assert not hypercorn_compat.websocket_compression_off()
    finally:
        ws_stream.Handshake = original


def test_a_shim_that_cannot_apply_logs_and_the_app_keeps_quarts_own(monkeypatch, caplog):
    from quart import Quart
    from quart.asgi import ASGIHTTPConnection

    monkeypatch.delattr(ASGIHTTPConnection, "handle_messages")
    app = Quart("probe")
    with caplog.at_level(logging.ERROR, logger="mediahub.compat"):
        assert quart_compat.install(app) is False
    assert app.asgi_http_class is not quart_compat.BoundedHTTPConnection
    assert "cannot bound request bodies" in caplog.text and "that protection is off" in caplog.text


def test_tortoise_shim_missing_its_target_logs_instead_of_crashing(monkeypatch, caplog):
    from tortoise.backends.sqlite import client

    monkeypatch.setattr(tortoise_compat, "_applied", False)
    monkeypatch.delattr(client, "SqliteTransactionWrapper")  # a release that renamed it
    with caplog.at_level(logging.ERROR, logger="mediahub.compat"):
        assert tortoise_compat.apply() is False
    assert "BEGIN IMMEDIATE" in caplog.text


def test_a_version_outside_the_range_is_reported(monkeypatch, caplog):
    monkeypatch.setattr(mediahub._compat, "installed_version", lambda name: Version("99.0"))
    with caplog.at_level(logging.WARNING, logger="mediahub.compat"):
        assert mediahub._compat.in_tested_range("quart", quart_compat.TESTED) is False
    assert "quart 99.0 is outside" in caplog.text
