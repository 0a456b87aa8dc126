"""Hostile input: signed /media/ links that were tampered with."""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

import pytest

from mediahub.streaming import signed_media_url
from tests.support.hostile_input import assert_json_error, raw_request

pytestmark = pytest.mark.asyncio(loop_scope="package")


SIGNATURE_TAMPERING = {
    "no query at all": lambda url: url.partition("?")[0],
    "exp without sig": lambda url: url.partition("&sig=")[0],
    "sig without exp": lambda url: url.partition("?")[0] + "?sig=" + url.partition("&sig=")[2],
    "exp moved a second later": lambda url: url.replace("exp=", "exp=1", 1),
    "exp of 13 digits": lambda url: url.replace("exp=", "exp=9999999999999&x=", 1),
    "exp negative": lambda url: url.replace("exp=", "exp=-", 1),
    "exp in the past, signed": None,  # built below: a real signature of an expired link
    "sig upper-cased": lambda url: url[:url.index("&sig=")] + "&sig=" + url.partition("&sig=")[2].upper(),
    "sig truncated": lambda url: url[:-1],
    "sig of non-hex characters": lambda url: url[:url.index("&sig=")] + "&sig=" + "zz" * 32,
    "sig of 10 000 characters": lambda url: url + "a" * 10_000,
    "the key of another object": lambda url: url.replace(".wav?", "x.wav?", 1),
    "another backend's name": lambda url: url.replace("/media/local/", "/media/locale/", 1),
    "sig given twice": lambda url: url + "&sig=" + "0" * 64,
}


@pytest.mark.parametrize("tampering", SIGNATURE_TAMPERING)
async def test_tampered_media_link(world, tampering):
    url = world.temp["url"]
    assert url.startswith("/media/local/") and ".wav?" in url
    if tampering == "exp in the past, signed":
        key = unquote(urlsplit(url).path[len("/media/local/"):])
        target = signed_media_url(world.host.secret_key, "local", key, int(time.time()) - 1)
    else:
        target = SIGNATURE_TAMPERING[tampering](url)
    status, headers, body = await raw_request(world.app, "GET", target, {"Range": "bytes=0-"})
    assert_json_error(status, headers, body, 403, "forbidden")
    assert not body.startswith(b"RIFF")
