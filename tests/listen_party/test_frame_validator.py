"""The party frame validator over arbitrary JSON: it accepts a frame or raises ProtocolError, never anything else."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings, strategies as st

from mediahub_listen_party import clock, protocol
from mediahub_listen_party.protocol import PartyState, ProtocolError

# Any JSON value: integers far beyond a float's range (JSON has no limit), floats that
# round-trip through text, long strings, nesting.
huge = st.integers(min_value=10**300, max_value=10**320)
numbers = st.integers() | huge | huge.map(lambda n: -n) | st.floats()
scalars = st.none() | st.booleans() | numbers | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
FIELDS = ["version", "positionSec", "t0", "offsetMs", "driftMs", "rttMs", "trackId", "memberId", "source",
          "entryId", "toIndex", "durationSec", "role", "guestsControl", "guestsAdd", "skipShare", "emoji"]
frames = st.fixed_dictionaries(
    {"t": st.sampled_from(sorted(protocol.CLIENT_MESSAGES)) | json_values},
    optional={name: numbers | json_values for name in FIELDS})

BOUNDED = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRACK = {"trackId": "t1", "trackUrl": "/api/track/t1", "filename": "a.mp3"}


def accepted_or_refused(text: str) -> dict | None:
    """The frame as the server would handle it, or None when it is refused as it should be."""
    try:
        return protocol.parse_frame(text)
    except ProtocolError as refused:
        assert refused.code in {"bad_frame", "frame_too_large", "unknown_type"}
        return None


@BOUNDED
@given(frames)
def test_any_json_frame_is_accepted_or_refused_with_protocol_error(frame):
    message = accepted_or_refused(json.dumps(frame))  # Python writes NaN/Infinity as JS does
    if message is None:
        return
    kind = message["t"]
    # What the server then does with an accepted frame must not raise either.
    if kind == "PING":
        json.dumps(protocol.pong(message, 1.0, 2.0), allow_nan=False)
    elif kind == "SYNC_REPORT":
        clock.sync_quality(message["driftMs"], message["rttMs"])
        assert all(math.isfinite(float(message[f])) for f in ("offsetMs", "driftMs", "rttMs"))
    elif kind == "REACT":
        assert message["emoji"] in protocol.REACTIONS
    else:
        # Commands without a version (QUEUE_ADD, VOTE_SKIP, ...) apply to the newest state.
        state = PartyState(version=message.get("version", 0), host_id="host", track=TRACK)
        try:
            new, out = protocol.apply_command(state, message, "host", 1000.0, 500.0, track=TRACK)
        except ProtocolError:
            return
        json.dumps(out, allow_nan=False)
        assert math.isfinite(new.position_sec) and 0 <= new.position_sec <= protocol.MAX_POSITION_SEC


@BOUNDED
@given(st.text(max_size=300) | json_values.map(json.dumps))
def test_any_text_is_accepted_or_refused_with_protocol_error(text):
    accepted_or_refused(text)


def test_numbers_larger_than_any_float_are_bad_frames():
    huge = "1" + "0" * 309
    for frame in (f'{{"t": "PING", "t0": {huge}}}',
                  f'{{"t": "SYNC_REPORT", "offsetMs": 0, "driftMs": 0, "rttMs": {huge}}}',
                  f'{{"t": "HOST_SEEK", "version": 1, "positionSec": {huge}}}',
                  f'{{"t": "HOST_PLAY", "version": 1, "positionSec": -{huge}}}'):
        try:
            protocol.parse_frame(frame)
        except ProtocolError as refused:
            assert refused.code == "bad_frame"
        else:
            raise AssertionError(f"accepted {frame[:40]}")
