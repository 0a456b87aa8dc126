"""`mediahub serve --reuse-port`: several processes listen on one port (SO_REUSEPORT)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from tests.support.ports import free_port


def test_two_serve_processes_share_one_port(tmp_path):
    port = free_port()
    env = {**os.environ, "MEDIAHUB__SERVER__DATA_DIR": str(tmp_path / "data")}
    processes = []
    try:
        for number in (1, 2):  # one after the other: the first applies the migrations
            log = open(tmp_path / f"serve{number}.log", "w")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "mediahub.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(port), "--reuse-port"], env=env, stdout=log, stderr=log))
            deadline = time.monotonic() + 60
            while b"Running on" not in (tmp_path / f"serve{number}.log").read_bytes():
                assert processes[-1].poll() is None, (tmp_path / f"serve{number}.log").read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        # Both bound the same port (without SO_REUSEPORT the second exits: address in use)
        # and the kernel hands connections to either; every request is answered.
        for _ in range(20):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
                assert answer.status == 200
        assert all(process.poll() is None for process in processes)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
