"""`mediahub serve --reuse-port`: several processes listen on one port (SO_REUSEPORT), and a party
works across them with the Redis bus."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request

import httpx
import pytest

from tests.support.party import HostRelay, party_with_a_track_and_a_guest
from tests.support.ports import free_port
from tests.support.websocket_client import WebSocketClient


def start_reuse_port_processes(tmp_path, port: int, config=None) -> list[subprocess.Popen]:
    env = {**os.environ, "MEDIAHUB__SERVER__DATA_DIR": str(tmp_path / "data")}
    config_args = ["-c", str(config)] if config else []
    processes = []
    try:
        for number in (1, 2):  # one after the other: the first applies the migrations
            log = open(tmp_path / f"serve{number}.log", "w")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "mediahub.cli", *config_args, "serve", "--host", "127.0.0.1",
                 "--port", str(port), "--reuse-port"], env=env, stdout=log, stderr=log))
            deadline = time.monotonic() + 60
            while b"Running on" not in (tmp_path / f"serve{number}.log").read_bytes():
                assert processes[-1].poll() is None, (tmp_path / f"serve{number}.log").read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
    except BaseException:
        stop(processes)
        raise
    return processes


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(20)


def test_two_serve_processes_share_one_port(tmp_path):
    port = free_port()
    processes = start_reuse_port_processes(tmp_path, port)
    try:
        # Both bound the same port (without SO_REUSEPORT the second exits: address in use)
        # and the kernel hands connections to either; every request is answered.
        for _ in range(20):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
                assert answer.status == 200
        assert all(process.poll() is None for process in processes)
    finally:
        stop(processes)


# -- a party across two --reuse-port processes -----------------------------------------


def serving_process(client_port: int, server_port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the server end of the loopback connection from `client_port`
    (/proc/net/tcp names the socket's inode, /proc/PID/fd the process holding it)."""
    wanted = (f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}")
    inode = None
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == wanted:
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(fd.path) == f"socket:[{inode}]":
                    return pid
    return None


@pytest.mark.redis
async def test_a_party_host_on_one_process_and_a_guest_on_the_other_follow_each_other(
        tmp_path, redis_url, redis_namespace):
    # Two processes on one port, one data dir (SQLite, local disk) and the Redis bus, as
    # docs/nginx.md describes. The kernel picks the process of each connection: the guest's
    # WebSocket is opened again until it lands on the other process than the host's.
    port = free_port()
    config = tmp_path / "mediahub.toml"
    config.write_text(f'[bus]\nbackend = "redis"\nredis_url = "{redis_url}"\n'
                      f'channel_prefix = "{redis_namespace}"\n')
    processes = start_reuse_port_processes(tmp_path, port, config)
    pids = [process.pid for process in processes]
    url = f"http://127.0.0.1:{port}"
    sockets = []
    try:
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:
            registered = await http.post("/api/auth/register",
                                         json={"username": "dj-alice", "password": "correct horse battery"})
            assert registered.status_code in (200, 201), registered.text
            token = registered.json()["access_token"]
            dj = {"Authorization": f"Bearer {token}"}
            party, track, guest_token = await party_with_a_track_and_a_guest(http, http, dj)

        async def connect(access_token: str) -> tuple[WebSocketClient, int]:
            client = await WebSocketClient.connect(
                f"ws://127.0.0.1:{port}/ws/party/{party['code']}?access_token={access_token}")
            sockets.append(client)
            return client, serving_process(client.writer.get_extra_info("sockname")[1], port, pids)

        host, host_pid = await connect(token)
        for _ in range(40):
            guest, guest_pid = await connect(guest_token)
            if guest_pid != host_pid:
                break
        assert None not in (host_pid, guest_pid) and guest_pid != host_pid, "one process took every connection"

        command = (await HostRelay.after_snapshots(host, guest)).command

        selected = await command({"t": "HOST_TRACK_SELECTED", "trackId": track.json()["trackId"]},
                                 "TRACK_SELECTED")
        assert selected["trackId"] == track.json()["trackId"] and not selected["playing"]
        play = await command({"t": "HOST_PLAY", "positionSec": 3}, "PLAY")
        assert play["playing"] and play["positionSec"] == 3
        seek = await command({"t": "HOST_SEEK", "positionSec": 12.5}, "SEEK")
        assert seek["positionSec"] == 12.5
        # And back: the guest's report on its process reaches the host on the other.
        await guest.send_json({"t": "SYNC_REPORT", "offsetMs": 1.0, "driftMs": 2.0, "rttMs": 3.0})
        report = await host.receive_json("MEMBER_SYNC")
        assert report["name"] == "Bob"
    finally:
        for client in sockets:
            with contextlib.suppress(Exception):
                await client.close()
        stop(processes)
