"""Browser fixtures: a real mediahub server (Hypercorn, own process) and Debian's chromium via Playwright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.browser import CSP_VIOLATIONS, launch_chromium
from tests.support.ports import free_port

# The server runs in its own process: its event loop and Tortoise's global state never meet
# the tests' (Playwright's sync API runs a loop of its own).
SERVER_SCRIPT = """
import asyncio, sys
from pathlib import Path
from hypercorn.asyncio import serve
from hypercorn.config import Config
from mediahub.app import create_app
from mediahub.testing import make_settings

settings = make_settings(Path(sys.argv[1]))
config = Config()
config.bind = [f"127.0.0.1:{sys.argv[2]}"]
config.accesslog = None
try:
    asyncio.run(serve(create_app(settings), config))
except KeyboardInterrupt:
    pass
"""


def wait_until_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer /healthz within {timeout}s:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """Base URL of a mediahub server on a free loopback port, data in a temp dir."""
    data_dir = tmp_path_factory.mktemp("browser-data")
    log_path = data_dir / "server.log"
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, str(data_dir), str(port)],
                                   stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log_path)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(autouse=True)
def no_csp_violations():
    CSP_VIOLATIONS.clear()
    yield
    assert CSP_VIOLATIONS == [], "pages broke their Content-Security-Policy"


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


