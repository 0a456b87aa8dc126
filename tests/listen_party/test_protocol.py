"""The party protocol and clock math as plain functions: versions, positions, offsets, drift."""

from __future__ import annotations

import json
import random

import pytest

from mediahub_listen_party import clock, protocol
from mediahub_listen_party.protocol import PartyState, ProtocolError

TRACK = {"trackId": "t1", "trackUrl": "/api/track/t1", "filename": "song.mp3"}


def host_state(**kw) -> PartyState:
    return PartyState(version=1, host_id="host", **kw)


def command(kind: str, version: int, **fields) -> dict:
    return protocol.parse_frame(json.dumps({"t": kind, "version": version, **fields}))


def test_play_is_scheduled_a_lead_ahead_and_position_follows_server_time():
    state, message = protocol.apply_command(host_state(track=TRACK), command("HOST_PLAY", 1),
                                            "host", now_ms=10_000, lead_ms=500)
    assert message["t"] == "PLAY" and message["serverTimestamp"] == 10_500
    assert message["positionSec"] == 0 and message["version"] == 2 == state.version
    assert protocol.position_at(state, 10_200) == 0  # before the scheduled start
    assert protocol.position_at(state, 40_500) == pytest.approx(30.0)  # mid-track join


def test_pause_freezes_the_position_and_seek_keeps_paused():
    playing = PartyState(version=3, host_id="host", track=TRACK, playing=True,
                         position_sec=5.0, anchor_ms=1_000)
    paused, message = protocol.apply_command(playing, command("HOST_PAUSE", 3), "host", 3_500, 500)
    assert message["t"] == "PAUSE" and not paused.playing
    assert paused.position_sec == pytest.approx(7.5)
    assert protocol.position_at(paused, 99_999) == pytest.approx(7.5)
    moved, message = protocol.apply_command(paused, command("HOST_SEEK", 4, positionSec=60),
                                            "host", 4_000, 500)
    assert message["t"] == "SEEK" and not moved.playing and moved.position_sec == 60


def test_seek_while_playing_restarts_after_the_lead():
    playing = PartyState(version=3, host_id="host", track=TRACK, playing=True, anchor_ms=0)
    moved, _ = protocol.apply_command(playing, command("HOST_SEEK", 3, positionSec=90),
                                      "host", 10_000, 400)
    assert moved.playing and moved.anchor_ms == 10_400
    assert protocol.position_at(moved, 11_400) == pytest.approx(91.0)


def test_a_stale_version_is_refused():
    state = host_state(track=TRACK)
    with pytest.raises(ProtocolError) as refused:
        protocol.apply_command(state, command("HOST_PLAY", 0), "host", 0, 0)
    assert refused.value.code == "stale_version"


def test_only_the_host_commands_and_handoff_moves_the_role():
    state = host_state(track=TRACK)
    with pytest.raises(ProtocolError) as refused:
        protocol.apply_command(state, command("HOST_PAUSE", 1), "guest", 0, 0)
    assert refused.value.code == "not_host"
    handed, message = protocol.apply_command(state, command("HOST_HANDOFF", 1, memberId="guest"),
                                             "host", 0, 0)
    assert message["t"] == "HOST_CHANGED" and handed.host_id == "guest"
    with pytest.raises(ProtocolError):
        protocol.apply_command(handed, command("HOST_PAUSE", 2), "host", 0, 0)


def test_track_selection_uses_the_servers_track_and_resets_to_paused_zero():
    state = PartyState(version=5, host_id="host", track=TRACK, playing=True, position_sec=40)
    other = {"trackId": "t2", "trackUrl": "/api/track/t2", "filename": "b.mp3"}
    new, message = protocol.apply_command(state, command("HOST_TRACK_SELECTED", 5, trackId="t2"),
                                          "host", 1_000, 0, track=other)
    assert message["t"] == "TRACK_SELECTED" and message["trackUrl"] == "/api/track/t2"
    assert not new.playing and new.position_sec == 0
    with pytest.raises(ProtocolError) as refused:
        protocol.apply_command(new, command("HOST_TRACK_SELECTED", 6, trackId="zz"), "host", 0, 0)
    assert refused.value.code == "no_such_track"


def test_play_without_a_track_is_refused():
    with pytest.raises(ProtocolError) as refused:
        protocol.apply_command(host_state(), command("HOST_PLAY", 1), "host", 0, 0)
    assert refused.value.code == "no_track"


@pytest.mark.parametrize("frame", [
    b"bytes", "x" * 5000, "not json", "[1]", '{"t": "NOPE"}', '{"t": "HOST_PLAY"}',
    '{"t": "HOST_PLAY", "version": true}', '{"t": "HOST_SEEK", "version": 1, "positionSec": -1}',
    '{"t": "HOST_SEEK", "version": 1, "positionSec": "3"}', '{"t": "PING", "t0": NaN}',
    '{"t": "HOST_TRACK_SELECTED", "version": 1, "trackId": ""}', "[" * 100_000,
    '{"t": "SYNC_REPORT", "offsetMs": 1, "driftMs": 1}', '{"t": ["PING"]}', '{"t": {"a": 1}}',
])
def test_malformed_frames_are_refused(frame):
    with pytest.raises(ProtocolError):
        protocol.parse_frame(frame)


def test_state_round_trips_through_json():
    state = PartyState(version=7, host_id="h", track=TRACK, playing=True, position_sec=3.5,
                       anchor_ms=123.0)
    assert PartyState.from_json(json.loads(json.dumps(state.to_json()))) == state


def test_pong_echoes_the_client_time():
    assert protocol.pong({"t": "PING", "t0": 5}, 10, 11) == {"t": "PONG", "t0": 5, "t1": 10, "t2": 11}


# -- clock ---------------------------------------------------------------------------------


def test_offset_of_a_symmetric_ping_is_exact_even_for_a_clock_minutes_off():
    # The client's clock is 90 s behind the server; 10 ms each way.
    sample = clock.ClockSample(t0=0, t1=90_010, t2=90_011, t3=21)
    assert sample.offset == pytest.approx(90_000) and sample.rtt == pytest.approx(20)


def test_the_fastest_samples_win_over_queued_ones():
    rng = random.Random(1)
    true_offset = -90_000.0
    samples = []
    for i in range(12):
        up, down = 2 + rng.random(), 2 + rng.random()
        if i % 3 == 0:
            up += 200  # a ping stuck behind a queue: asymmetric, hugely off
        t0 = i * 100.0
        t1 = t0 + up + true_offset
        samples.append(clock.ClockSample(t0, t1, t1 + 0.1, t0 + up + 0.1 + down))
    estimate = clock.estimate_offset(samples)
    assert abs(estimate.offset_ms - true_offset) < 1.0
    assert estimate.rtt_ms < 7 and estimate.samples == 12
    naive = sum(s.offset for s in samples) / len(samples)
    assert abs(naive - true_offset) > 20


def test_estimate_needs_samples():
    with pytest.raises(ValueError):
        clock.estimate_offset([])


def test_drift_policy_deadband_rate_and_seek():
    assert clock.correction(3).action == "none"
    behind = clock.correction(-40, jump_ms=0.0)
    assert behind.action == "rate" and 1.0 < behind.rate <= 1.0 + clock.MAX_RATE_DELTA
    ahead = clock.correction(40, jump_ms=0.0)
    assert ahead.action == "rate" and ahead.rate == pytest.approx(2 - behind.rate)
    assert clock.correction(200).rate == pytest.approx(1 - clock.MAX_RATE_DELTA)
    assert clock.correction(-600).action == "seek"


def test_a_correction_plans_for_the_jump_a_rate_change_makes():
    plain = clock.correction(14.0, jump_ms=0.0)
    assert plain.action == "rate" and plain.rate < 1
    assert clock.excursion_effect_ms(plain.rate, plain.duration_ms) == pytest.approx(-14.0)
    # 14 ms ahead, and a rate change alone moves this guest back 20 ms: speed up by 6 ms.
    planned = clock.correction(14.0, jump_ms=-20.0)
    assert planned.rate > 1
    assert clock.excursion_effect_ms(planned.rate, planned.duration_ms) == pytest.approx(6.0)
    assert planned.duration_ms >= 100


def test_a_landing_is_absorbed_faster_and_finished_tighter():
    steady = clock.correction(-10.0, jump_ms=-20.0)
    landing = clock.correction(-10.0, jump_ms=-20.0, landing=True)
    for fix in (steady, landing):  # 10 ms behind, and the rate change costs 20 more
        assert clock.excursion_effect_ms(fix.rate, fix.duration_ms) == pytest.approx(30.0)
    assert steady.duration_ms == pytest.approx(1000.0)
    assert landing.rate == pytest.approx(1 + clock.LANDING_MAX_RATE_DELTA)  # at the landing's top rate
    assert landing.duration_ms == pytest.approx(30.0 / clock.LANDING_MAX_RATE_DELTA)
    near = clock.correction(10.0, jump_ms=-20.0, landing=True)  # the jump does most of it
    assert near.duration_ms == pytest.approx(clock.LANDING_HORIZON_S * 1000)
    assert clock.excursion_effect_ms(near.rate, near.duration_ms) == pytest.approx(10.0)
    # The dead band's hysteresis: 5 ms off is left alone by the steady loop, not by a landing.
    assert clock.correction(5.0, jump_ms=-20.0).action == "none"
    assert clock.correction(5.0, jump_ms=-20.0, landing=True).action == "rate"
    assert clock.correction(2.5, jump_ms=-20.0, landing=True).action == "none"


@pytest.mark.parametrize("true_jump", [0.0, -20.0, 12.0])
@pytest.mark.parametrize("start", [14.0, -12.0, 100.0, -200.0, 249.0])
def test_excursions_bring_any_drift_below_the_deadband_within_a_few_seconds(start, true_jump):
    """A simulated guest whose every rate change moves it by `true_jump` (Chromium: ~-20 ms)."""
    drift, learned, elapsed = start, None, 0.0
    for _ in range(8):
        fix = clock.correction(drift, clock.RATE_JUMP_PRIOR_MS if learned is None else learned)
        if fix.action == "none":
            break
        assert fix.action == "rate"
        before = drift
        drift += clock.excursion_effect_ms(fix.rate, fix.duration_ms) + true_jump
        learned = clock.learn_rate_jump(learned, before, drift,
                                        clock.excursion_effect_ms(fix.rate, fix.duration_ms))
        elapsed += fix.duration_ms + 800  # then settle and take five readings
    assert abs(drift) < clock.DEADBAND_MS
    assert elapsed <= 8000


def test_the_learned_jump_follows_observations_and_ignores_stalls():
    assert clock.learn_rate_jump(None, 10.0, -12.0, planned_ms=-2.0) == pytest.approx(-20.0)
    assert clock.learn_rate_jump(-20.0, 0.0, -10.0, planned_ms=0.0) == pytest.approx(-15.0)
    # A 200 ms stall during the excursion is not what a rate change does.
    assert clock.learn_rate_jump(-20.0, 0.0, -200.0, planned_ms=0.0) == -20.0


def test_sync_quality_levels():
    assert clock.sync_quality(5, 2) == "Good"
    assert clock.sync_quality(-50, 2) == "Medium"
    assert clock.sync_quality(10, 300) == "Poor"
