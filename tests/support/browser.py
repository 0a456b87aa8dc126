"""Debian's chromium through Playwright for the browser tests, with every page's CSP violations collected."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-gpu",
]

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
