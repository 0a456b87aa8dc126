"""Browser fixtures: a real mediahub server (Hypercorn, own process) and Debian's chromium via Playwright."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-gpu",
]

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


# Issue 13.4: every page runs under the server's Content-Security-Policy, and every browser
# test doubles as its check: each violation a page reports (a blocked inline script or
# style, a worker, a host the policy leaves out) is collected, and a test with any fails.
CSP_VIOLATIONS: list[str] = []
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} blocked ${event.blockedURI || 'inline'}`
                + ` at ${event.sourceFile || location.href}:${event.lineNumber}`);
});
"""


def watch_csp(chromium) -> None:
    """Every context this browser makes reports its pages' CSP violations to CSP_VIOLATIONS."""
    make_context = chromium.new_context

    def new_context(*args, **kwargs):
        context = make_context(*args, **kwargs)
        context.add_init_script(CSP_LISTENER)
        context.on("console", lambda message: CSP_VIOLATIONS.append(message.text)
                   if message.text.startswith("CSP violation") else None)
        return context

    chromium.new_context = new_context


@pytest.fixture(autouse=True)
def no_csp_violations():
    CSP_VIOLATIONS.clear()
    yield
    assert CSP_VIOLATIONS == [], "pages broke their Content-Security-Policy"


@contextlib.contextmanager
def launch_chromium(extra_args: list[str] = ()):
    """Debian's chromium driven by Playwright (never a downloaded browser); skips if absent."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_ARGS + list(extra_args))
        watch_csp(chromium)
        try:
            yield chromium
        finally:
            chromium.close()


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


def sign_in_and_start_party(page, url: str, username: str, password: str) -> str:
    """Sign `page` in through the login form, start a party on /party; returns its join code."""
    page.goto(url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")
    page.goto(url + "/party")
    page.get_by_role("button", name="Start a party").click()
    page.wait_for_url(url + "/party/*")
    return page.locator("#party-code").inner_text()
