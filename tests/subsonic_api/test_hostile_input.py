"""Every endpoint, fed hostile parameters, answers a Subsonic error in well-formed XML — never a 500."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mediahub_subsonic_api.endpoints import load_all
from tests.support.subsonic import token_params

HOSTILE = [
    {"id": "\x00"}, {"id": "x" * 5000}, {"id": "al-' OR 1=1 --"}, {"id": "../../etc/passwd"},
    {"id": "tr-nope", "size": "1" * 40, "count": "-5", "offset": "1e309", "maxBitRate": "fast",
     "timeOffset": "nan", "rating": "9", "submission": "maybe", "time": "9" * 30, "position": "-1",
     "type": "newest", "query": "\u202e\ufeff", "genre": "\x00", "username": "\x00"},
    {"songIndexToRemove": "zz", "playlistId": "nope", "songIdToAdd": "tr-none", "name": "<x>"},
]


@pytest.mark.parametrize("endpoint", sorted(load_all()))
def test_hostile_parameters_never_break_an_endpoint(api, alice, endpoint):
    for params in HOSTILE:
        for post in (False, True):
            status, content_type, body, _ = api.request(endpoint, {**token_params(alice), **params},
                                                        post=post)
            assert status == 200, (endpoint, params, status, body[:300])
            if content_type.startswith("text/xml"):
                root = ET.fromstring(body)
                assert root.attrib["status"] in ("ok", "failed")


def test_bytes_that_are_not_utf8(api, alice):
    import urllib.parse
    import urllib.request
    query = urllib.parse.urlencode(token_params(alice)) + "&query=%ff%fe%ed%a0%80&id=%c0%af&f=xml"
    for endpoint in ("search3", "getAlbum", "stream"):
        with urllib.request.urlopen(f"{api.url}/rest/{endpoint}?{query}", timeout=30) as response:
            assert response.status == 200
            ET.fromstring(response.read())


def test_bad_credentials_in_every_shape_are_error_codes(api):
    for params in ({"u": "\x00", "p": "x"}, {"u": "a" * 5000, "t": "x", "s": "y"},
                   {"apiKey": "\x00"}, {"u": "alice", "p": "enc:" + "f" * 4000},
                   {"u": "alice", "p": "enc:ff"}, {"u": "ålice", "t": "ü", "s": "ß"}):
        status, _, body, _ = api.request("getUser", params)
        assert status == 200
        root = ET.fromstring(body)
        assert root.attrib["status"] == "failed"
        assert root[0].attrib["code"] in ("0", "10", "40", "41", "44"), (params, body)
