"""Accounts in a real browser: sign up, sign out, sign in, continue as guest; phone layout."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/")
    assert page.get_by_role("link", name="Sign in").first.is_visible()


def test_sign_up_sign_out_sign_in_and_guest(page, live_server):
    page.goto(live_server + "/")
    page.get_by_role("link", name="Create an account").click()
    page.wait_for_url("**/signup")
    page.get_by_label("Username").fill("browser-user")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(live_server + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, browser-user."
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["mediahub_session"]["httpOnly"] is True
    assert cookies["mediahub_session"]["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("mediahub_session") == -1

    sign_out(page)

    page.get_by_role("link", name="Sign in").first.click()
    page.wait_for_url("**/login")
    page.get_by_label("Username").fill("browser-user")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert "wrong username or password" in page.get_by_role("alert").inner_text()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, browser-user."

    sign_out(page)

    page.get_by_role("button", name="Continue as guest").click()
    page.wait_for_url(live_server + "/")
    assert page.get_by_text("Signed in as a guest").is_visible()
    me = page.evaluate("fetch('/api/auth/me').then(r => r.json())")
    assert me["is_guest"] is True


def test_fetch_helper_passes_csrf_for_cookie_requests(page, live_server):
    page.goto(live_server + "/")
    page.get_by_role("button", name="Continue as guest").click()
    page.wait_for_url(live_server + "/")
    # Without the token the cookie session cannot change anything; with the helper it can.
    bare = page.evaluate("fetch('/api/auth/logout', {method: 'POST'}).then(r => r.status)")
    assert bare == 403
    helped = page.evaluate("mediahub.fetch('/api/auth/logout', {method: 'POST'}).then(r => r.status)")
    assert helped == 200
    assert page.evaluate("fetch('/api/auth/me').then(r => r.status)") == 401


@pytest.mark.parametrize("path", ["/", "/login", "/signup"])
def test_no_horizontal_scroll_on_a_phone(phone_page, live_server, path):
    phone_page.goto(live_server + path)
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375
    if path == "/":
        phone_page.screenshot(path="/tmp/home.png", full_page=True)


def test_no_horizontal_scroll_on_a_phone_when_signed_in(phone_page, live_server):
    phone_page.goto(live_server + "/")
    phone_page.get_by_role("button", name="Continue as guest").click()
    phone_page.wait_for_url(live_server + "/")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375
    phone_page.screenshot(path="/tmp/home-signed-in.png", full_page=True)


def test_pages_enforce_their_content_security_policy(page, live_server):
    # What an injection would try: an inline script, an inline handler, an inline style and a
    # script from another host. The policy refuses each, and the watcher every browser test
    # relies on (tests/browser/conftest.py) hears of each refusal.
    from tests.support.browser import CSP_VIOLATIONS

    response = page.goto(live_server + "/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.evaluate("""() => {
        const script = document.createElement('script');
        script.textContent = 'window.pwned = 1';
        document.body.append(script);
        document.body.insertAdjacentHTML('beforeend',
            '<img src="data:," onload="window.pwned = 2"><b style="color: red">x</b>');
        const remote = document.createElement('script');
        remote.src = 'http://evil.invalid/x.js';
        document.body.append(remote);
    }""")
    for _ in range(100):  # the reports arrive as console messages: poll, bounded
        if len(CSP_VIOLATIONS) >= 4:
            break
        page.wait_for_timeout(20)
    assert page.evaluate("window.pwned") is None
    directives = sorted(text.split()[2] for text in CSP_VIOLATIONS)
    assert directives == ["script-src-attr", "script-src-elem", "script-src-elem", "style-src-attr"], CSP_VIOLATIONS
    CSP_VIOLATIONS.clear()
