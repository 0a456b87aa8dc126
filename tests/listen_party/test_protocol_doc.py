"""docs/party-protocol.md names every frame the party sends and takes, and every error code it answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mediahub_listen_party import protocol

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "party-protocol.md").read_text()
SOURCES = "\n".join(path.read_text() for path in (ROOT / "plugins" / "mediahub_listen_party").glob("*.py"))

SERVER_MESSAGES = sorted(set(re.findall(r'state_message\(\s*"([A-Z_]+)"', SOURCES))
                         | set(re.findall(r'"t": "([A-Z_]+)"', SOURCES)))
ERROR_CODES = sorted(set(re.findall(r'ProtocolError\(\s*"([a-z_]+)"', SOURCES))
                     | set(re.findall(r'"code": "([a-z_]+)"', SOURCES)))


def test_the_sources_were_read():
    assert {"QUEUE_CHANGED", "REACTION", "PONG", "PARTY_ENDED"} <= set(SERVER_MESSAGES)
    assert {"queue_full", "too_many_reactions", "stale_version"} <= set(ERROR_CODES)


@pytest.mark.parametrize("kind", sorted(protocol.CLIENT_MESSAGES))
def test_every_client_frame_has_a_row(kind):
    assert re.search(rf"^\| `{kind}` \|", DOC, re.MULTILINE), f"{kind} is not in the client table"


@pytest.mark.parametrize("kind", SERVER_MESSAGES)
def test_every_server_message_is_documented(kind):
    assert f"`{kind}`" in DOC


@pytest.mark.parametrize("code", ERROR_CODES)
def test_every_error_code_is_documented(code):
    assert f"`{code}`" in DOC
