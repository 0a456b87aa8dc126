"""The app-password page (create, name, last use, revoke) and the sealing of stored passwords."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from mediahub_subsonic_api.sealing import SealBroken, lookup_hash, open_sealed, seal
from tests.support.subsonic import create_app_password, make_account, token_params


def page(server, bearer: str) -> str:
    req = urllib.request.Request(f"{server.url}/account/subsonic",
                                 headers={"Authorization": f"Bearer {bearer}", "Accept": "text/html"})
    with urllib.request.urlopen(req, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/html")
        return response.read().decode()


def revoke(server, bearer: str, password_id: str) -> int:
    req = urllib.request.Request(f"{server.url}/account/subsonic/{password_id}/revoke", data=b"",
                                 headers={"Authorization": f"Bearer {bearer}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def entry(html: str, name: str) -> tuple[str, str]:
    """(id, text) of the listed app password called `name`."""
    for match in re.finditer(r'data-app-password-id="(\d+)">(.*?)</li>', html, re.S):
        if f">{name}<" in match.group(2):
            return match.group(1), " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).split())
    raise AssertionError(f"{name} is not listed")


def test_create_use_see_and_revoke(server, api):
    dave = make_account(server.url, "dave")
    tablet = create_app_password(server.url, dave.bearer, "Tablet <b>DSub</b>")
    html = page(server, dave.bearer)
    password_id, text = entry(html, "Tablet &lt;b&gt;DSub&lt;/b&gt;")  # escaped, not markup
    assert "never used" in text and tablet not in html  # shown once, at creation only
    assert "127.0.0.1" in html and "dave" in html  # what to type into the app
    tablet_account = type(dave)(dave.username, dave.password, tablet, dave.bearer)
    assert api.json("ping", {**token_params(tablet_account), "c": "DSub"})["subsonic-response"]["status"] == "ok"
    _, text = entry(page(server, dave.bearer), "Tablet &lt;b&gt;DSub&lt;/b&gt;")
    assert "last used" in text and "by DSub" in text
    # Another account cannot revoke it; its owner can, and apps using it are out at once.
    erin = make_account(server.url, "erin")
    assert revoke(server, erin.bearer, password_id) == 404
    assert revoke(server, dave.bearer, "9" * 33) == 404  # past any id: not found, not a 500
    assert revoke(server, dave.bearer, password_id) == 200
    refused = api.json("ping", token_params(tablet_account))["subsonic-response"]
    assert refused["status"] == "failed" and refused["error"]["code"] == 40
    assert api.json("ping", {"apiKey": tablet})["subsonic-response"]["error"]["code"] == 44
    # The account's first app password still works.
    assert api.json("ping", token_params(dave))["subsonic-response"]["status"] == "ok"


def test_page_rules(server):
    frank = make_account(server.url, "frank")
    html = page(server, frank.bearer)
    # The CSP rules: no inline script bodies, handlers, style attributes, javascript: URLs.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=|\sstyle=|javascript:", html, re.I)
    req = urllib.request.Request(f"{server.url}/account/subsonic", data=b"name=",
                                 headers={"Authorization": f"Bearer {frank.bearer}",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    assert refused.value.code == 400 and "name" in refused.value.read().decode()
    guest = json.load(urllib.request.urlopen(urllib.request.Request(
        f"{server.url}/api/auth/guest", data=b"{}", headers={"Content-Type": "application/json"})))
    with pytest.raises(urllib.error.HTTPError) as forbidden:
        page(server, guest["access_token"])
    assert forbidden.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(urllib.request.Request(
            f"{server.url}/account/subsonic", data=b"name=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"}), timeout=30)
    assert anonymous.value.code in (401, 403)


def test_sealing():
    secret = b"s" * 32
    sealed = seal(secret, "abcd-efgh")
    assert "abcd" not in sealed and open_sealed(secret, sealed) == "abcd-efgh"
    assert seal(secret, "abcd-efgh") != sealed  # a fresh nonce every time
    with pytest.raises(SealBroken):
        open_sealed(b"t" * 32, sealed)  # another server's secret
    tampered = sealed[:30] + ("A" if sealed[30] != "A" else "B") + sealed[31:]
    with pytest.raises(SealBroken):
        open_sealed(secret, tampered)
    with pytest.raises(SealBroken):
        open_sealed(secret, "!!not base64!!")
    assert lookup_hash(secret, "x") != lookup_hash(b"t" * 32, "x")
