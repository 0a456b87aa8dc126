"""The `mediahub` command as a self-hoster uses it: serve, config, cleanup, user, plugin commands."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from mediahub.cli import build_plugins, main
from mediahub.config import load_settings
from tests.support.ports import free_port

PLUGIN_DIRS = Path(__file__).parent / "plugins"


def config_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "mediahub.toml"
    path.write_text(f'[server]\ndata_dir = "{tmp_path}/data"\n{extra}', encoding="utf-8")
    return path



def test_serve_starts_a_working_server_on_the_embedded_default(tmp_path):
    port = free_port()
    env = {**os.environ, "MEDIAHUB__SERVER__DATA_DIR": str(tmp_path / "data")}
    server = subprocess.Popen([sys.executable, "-m", "mediahub.cli", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = None
        deadline = time.monotonic() + 90  # a first start migrates; a busy CI machine is slow
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    body = resp.read().decode()
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.1)
        assert body is not None, server.stdout.read() if server.poll() is not None else "no answer"
        assert '"status":"ok"' in body.replace(" ", "")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            assert resp.status == 200 and b"<html" in resp.read().lower()
        assert (tmp_path / "data" / "mediahub.sqlite3").exists()
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_config_check_exits_non_zero_listing_every_problem(tmp_path):
    path = config_file(tmp_path, "prot = 1\n[storage.main]\ntype = \"s4\"\n[storage]\ndefault = \"main\"\n")
    result = CliRunner().invoke(main, ["-c", str(path), "config", "check"])
    assert result.exit_code == 1
    assert "server.prot: unknown key; did you mean 'port'?" in result.output
    assert "storage.main.type: unknown backend type 's4'" in result.output
    assert "2 problem(s) found" in result.output


def test_config_check_passes_on_a_good_file(tmp_path):
    result = CliRunner().invoke(main, ["-c", str(config_file(tmp_path)), "config", "check"])
    assert result.exit_code == 0, result.output
    assert "config ok" in result.output


def test_config_show_masks_secrets(tmp_path):
    path = config_file(tmp_path, 'secret_key = { env = "MH_SECRET" }\n')
    result = CliRunner().invoke(main, ["-c", str(path), "config", "show"], env={"MH_SECRET": "topsecret"})
    assert result.exit_code == 0, result.output
    assert "topsecret" not in result.output
    assert '"secret_key": "********"' in result.output


def test_plugin_commands_join_the_cli(tmp_path):
    path = config_file(tmp_path, f'[plugins]\ndirs = ["{PLUGIN_DIRS / "command_dir"}"]\n')
    result = CliRunner().invoke(main, ["-c", str(path), "shout", "hello"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "HELLO!"


def test_user_create_then_login_works(tmp_path):
    path = config_file(tmp_path)
    created = CliRunner().invoke(main, ["-c", str(path), "user", "create", "admin1", "--admin"],
                                 input="a-long-password\na-long-password\n")
    assert created.exit_code == 0, created.output
    assert "created user admin1 (admin)" in created.output
    again = CliRunner().invoke(main, ["-c", str(path), "user", "create", "admin1"],
                               input="a-long-password\na-long-password\n")
    assert again.exit_code != 0


def test_user_set_password_replaces_a_forgotten_password_and_revokes_every_sign_in(tmp_path):
    path = config_file(tmp_path)
    CliRunner().invoke(main, ["-c", str(path), "user", "create", "admin1"],
                       input="a-long-password\na-long-password\n")
    settings = load_settings(path)

    async def sign_in_and_keep_a_token():
        from mediahub import db
        from mediahub.accounts import find_user
        from mediahub.app import database_config
        from mediahub.models import AuthToken
        from mediahub.tokens import issue_pair

        await db.init_db(database_config(settings, build_plugins(settings)))
        try:
            user = await find_user("admin1")
            await issue_pair(user, settings.auth)
            return await AuthToken.filter(user_id=user.id, revoked=False).count()
        finally:
            await db.close_db()

    assert asyncio.run(sign_in_and_keep_a_token()) == 2  # an access and a refresh token
    changed = CliRunner().invoke(main, ["-c", str(path), "user", "set-password", "admin1"],
                                 input="another-long-one\nanother-long-one\n")
    assert changed.exit_code == 0, changed.output
    assert "new password set for admin1" in changed.output

    async def after():
        from mediahub import db
        from mediahub.accounts import find_user
        from mediahub.app import database_config
        from mediahub.models import AuthToken
        from mediahub.passwords import verify_password

        await db.init_db(database_config(settings, build_plugins(settings)))
        try:
            user = await find_user("admin1")
            assert not (await verify_password(user.password_hash, "a-long-password"))[0]
            assert (await verify_password(user.password_hash, "another-long-one"))[0]
            return await AuthToken.filter(user_id=user.id, revoked=False).count()
        finally:
            await db.close_db()

    assert asyncio.run(after()) == 0
    unknown = CliRunner().invoke(main, ["-c", str(path), "user", "set-password", "nobody"],
                                 input="another-long-one\nanother-long-one\n")
    assert unknown.exit_code != 0 and "no account named 'nobody'" in unknown.output
    weak = CliRunner().invoke(main, ["-c", str(path), "user", "set-password", "admin1"],
                              input="short\nshort\n")
    assert weak.exit_code != 0 and "at least" in weak.output


def test_cleanup_command_runs_a_sweep(tmp_path):
    result = CliRunner().invoke(main, ["-c", str(config_file(tmp_path)), "cleanup"])
    assert result.exit_code == 0, result.output
    assert "swept:" in result.output


def websocket_handshake(port: int) -> bytes:
    request = (f"GET /ws/echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        return sock.recv(4096).lower()


def test_serve_offers_no_websocket_compression_unless_configured(tmp_path):
    from tests.support.server_process import ServerProcess

    plugins = {"MEDIAHUB__PLUGINS__DIRS": f'["{PLUGIN_DIRS / "ws_echo_dir"}"]'}
    with ServerProcess(tmp_path / "plain", env=plugins) as server:
        plain = websocket_handshake(server.port)
    with ServerProcess(tmp_path / "deflate",
                       env={**plugins, "MEDIAHUB__SERVER__WEBSOCKET_COMPRESSION": "true"}) as server:
        deflate = websocket_handshake(server.port)
    assert plain.startswith(b"http/1.1 101") and deflate.startswith(b"http/1.1 101")
    assert b"sec-websocket-extensions" not in plain
    assert b"sec-websocket-extensions: permessage-deflate" in deflate
