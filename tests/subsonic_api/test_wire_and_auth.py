"""The wire (XML by default, JSON, JSONP, .view, form POST) and every way an app signs in."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from hashlib import md5

import libsonic
import pytest

from tests.support.subsonic import http_json, make_account, token_params
from tests.subsonic_api.spec import assert_valid

NS = "{http://subsonic.org/restapi}"


def parse_xml(body: bytes) -> ET.Element:
    """As DSub reads it: a well-formed document whose root is subsonic-response."""
    root = ET.fromstring(body)
    assert root.tag == f"{NS}subsonic-response"
    return root


def connection(server, account, **kw) -> libsonic.Connection:
    return libsonic.Connection("http://127.0.0.1", account.username, account.app_password,
                               port=api_port(server), appName="pytest", **kw)


def api_port(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_the_envelope_in_xml_json_and_jsonp(api):
    status, content_type, body, _ = api.request("ping")
    assert status == 200 and content_type.startswith("text/xml")
    root = parse_xml(body)
    assert root.attrib == {"status": "ok", "version": "1.16.1", "type": "mediahub",
                           "serverVersion": root.attrib["serverVersion"], "openSubsonic": "true"}
    document = api.json("ping.view")
    assert_valid("ping", document)
    assert document["subsonic-response"]["openSubsonic"] is True
    _, content_type, body, _ = api.request("ping", {"f": "jsonp", "callback": "cb_1"})
    assert content_type.startswith("application/javascript")
    assert body.startswith(b"cb_1(") and body.endswith(b");")
    assert json.loads(body[5:-2])["subsonic-response"]["status"] == "ok"
    # A callback that is not an identifier cannot smuggle script: plain JSON comes back.
    _, content_type, body, _ = api.request("ping", {"f": "jsonp", "callback": "alert(1)//"})
    assert content_type.startswith("application/json") and b"alert" not in body


def test_extensions_answer_without_credentials(api):
    document = api.json("getOpenSubsonicExtensions")
    assert_valid("getOpenSubsonicExtensions", document)
    names = {e["name"] for e in document["subsonic-response"]["openSubsonicExtensions"]}
    assert {"formPost", "apiKeyAuthentication", "transcodeOffset", "songLyrics"} <= names


def test_ping_checks_credentials_only_when_sent(api, alice):
    assert api.json("ping")["subsonic-response"]["status"] == "ok"
    wrong = api.json("ping", {"u": alice.username, "p": "not it"})["subsonic-response"]
    assert wrong["status"] == "failed" and wrong["error"]["code"] == 40


def test_py_sonic_signs_in_with_token_and_with_enc_password(server, alice):
    assert connection(server, alice).ping() is True
    assert connection(server, alice, legacyAuth=True).ping() is True  # p=enc:<hex>
    user = connection(server, alice).getUser(alice.username)
    assert user["user"]["username"] == "alice"


def test_every_mechanism_and_form_post(api, alice):
    enc = "enc:" + alice.password.encode().hex()
    for params in (token_params(alice),
                   {"u": alice.username, "p": alice.app_password},
                   {"u": alice.username, "p": enc},  # the account password itself
                   {"u": alice.username, "p": alice.password},
                   {"apiKey": alice.app_password}):
        for post in (False, True):
            document = api.json("getUser", params, post=post)
            assert_valid("getUser", document)
            assert document["subsonic-response"]["user"]["username"] == "alice", (params, post)
    assert api.json("tokenInfo", {"apiKey": alice.app_password})[
        "subsonic-response"]["tokenInfo"] == {"username": "alice"}


def error_code(api, endpoint, params) -> int:
    status, content_type, body, _ = api.request(endpoint, params)
    assert status == 200, (endpoint, params, status)
    root = parse_xml(body)  # XML errors are well-formed too
    assert root.attrib["status"] == "failed"
    document = api.json(endpoint, params)
    assert_valid("ping", document)
    return document["subsonic-response"]["error"]["code"]


def test_error_codes(server, api, alice):
    carol = make_account(server.url, "carol")
    assert error_code(api, "getUser", {}) == 10
    assert error_code(api, "getUser", {"u": "alice"}) == 10
    assert error_code(api, "getUser", {"u": "alice", "t": "abc"}) == 10  # no salt
    assert error_code(api, "getUser", {"apiKey": alice.app_password, "u": "alice"}) == 43
    assert error_code(api, "getUser", {**token_params(alice), "p": "x"}) == 43
    assert error_code(api, "getUser", {"apiKey": "nope-nope"}) == 44
    assert error_code(api, "getUser", {**token_params(alice), "t": "0" * 32}) == 40
    assert error_code(api, "getUser", {"u": "alice", "p": "enc:zz"}) == 40
    assert error_code(api, "getUser", {**token_params(alice), "username": "carol"}) == 50
    assert error_code(api, "noSuchEndpoint", token_params(alice)) == 70
    # A user without app passwords cannot use token auth (their password is only hashed).
    revoke_all(server, carol)
    document = api.json("ping", {"u": "carol", "s": "ab", "t": md5(b"correct horse batteryab").hexdigest()})
    error = document["subsonic-response"]["error"]
    assert error["code"] == 41 and error["helpUrl"].endswith("/account/subsonic")


def revoke_all(server, account):
    import re
    import urllib.request
    req = urllib.request.Request(f"{server.url}/account/subsonic",
                                 headers={"Authorization": f"Bearer {account.bearer}"})
    with urllib.request.urlopen(req) as response:
        ids = re.findall(r'data-app-password-id="(\d+)"', response.read().decode())
    for password_id in ids:
        revoke = urllib.request.Request(f"{server.url}/account/subsonic/{password_id}/revoke",
                                        data=b"", headers={"Authorization": f"Bearer {account.bearer}"})
        with urllib.request.urlopen(revoke) as response:
            assert response.status == 200  # redirected back to the page
    return ids


def test_failures_are_throttled_like_sign_in(server, api):
    mallory = make_account(server.url, "mallory")
    for _ in range(5):
        params = {**token_params(mallory), "t": "f" * 32}
        assert api.json("ping", params)["subsonic-response"]["error"]["code"] == 40
    # Blocked now: even the right credentials fail, and so does the web sign-in.
    blocked = api.json("ping", token_params(mallory))["subsonic-response"]
    assert blocked["error"]["code"] == 40 and "too many" in blocked["error"]["message"]
    import urllib.error
    import urllib.request
    req = urllib.request.Request(f"{server.url}/api/auth/login", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"username": "mallory", "password": mallory.password}).encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req)
    assert refused.value.code == 429


def test_app_passwords_are_stored_sealed(server, alice):
    database = server.env["MEDIAHUB__SERVER__DATA_DIR"] + "/mediahub.sqlite3"
    with sqlite3.connect(database) as db:
        rows = db.execute("select name, sealed, lookup_hash from subsonic_app_passwords").fetchall()
    assert rows
    assert not any(alice.app_password in "|".join(map(str, row)) for row in rows)


def test_a_changed_account_password_ends_the_remembered_sign_in_at_once(server, api):
    """The account password's argon2 check is remembered for minutes; a change ends it.
    (An account of its own: the server is shared by the session, and the password changes.)"""
    account = make_account(server.url, "changes-password")
    old = {"u": account.username, "p": account.password}
    assert api.json("ping", old)["subsonic-response"]["status"] == "ok"
    assert api.json("ping", old)["subsonic-response"]["status"] == "ok"  # now remembered
    http_json(server.url, "/api/auth/password",
              {"current_password": account.password, "new_password": "a new passphrase"},
              bearer=account.bearer)
    refused = api.json("ping", old)["subsonic-response"]
    assert refused["status"] == "failed" and refused["error"]["code"] == 40
    new = {"u": account.username, "p": "a new passphrase"}
    assert api.json("ping", new)["subsonic-response"]["status"] == "ok"
