"""Hostile input (issue 13): decode amplification, a few KB that claim (or hold) an hour of audio."""

from __future__ import annotations

import contextlib

import pytest

from mediahub_hls_transcode.models import Track
from tests.support.hls import post_presigned, wait_for_status
from tests.support.hostile_input import KiB, error_of, hls_init, nothing_stored, wav_of, wav_render_form
from tests.support.multipart import multipart

pytestmark = pytest.mark.asyncio(loop_scope="package")


@pytest.fixture(scope="module")
def hour_of_silence(tmp_path_factory) -> bytes:
    """14 KB of FLAC holding an hour of 8 kHz silence (its STREAMINFO says so)."""
    import subprocess

    from mediahub import ffmpeg_path

    path = tmp_path_factory.mktemp("amplification") / "hour.flac"
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "anullsrc=r=8000:cl=mono", "-t", "3600", "-c:a", "flac", "-frame_size", "65535",
                    str(path)], check=True)
    return path.read_bytes()


def without_length(flac: bytes) -> bytes:
    """The same FLAC with STREAMINFO's total-samples field zeroed ("unknown"): it lies by omission."""
    data = bytearray(flac)
    assert data[:4] == b"fLaC"
    data[21] &= 0xF0
    data[22:26] = bytes(4)
    return bytes(data)


def flac_render_form(data: bytes):
    return "/api/v1/upload/audio", [("format", None, b"flac"), ("file", "long.flac", data)]


@pytest.mark.parametrize("lie", ["claims an hour", "hides its length"])
async def test_render_holding_an_hour_of_audio_is_refused(world, hour_of_silence, lie):
    data = hour_of_silence if lie == "claims an hour" else without_length(hour_of_silence)
    assert len(data) < 32 * KiB
    path, parts = flac_render_form(data)
    body, headers = multipart(parts, file_type="audio/flac")
    async with nothing_stored(world):
        response = await world.client.post(path, data=body, headers={**world.bob, **headers})
        error = await error_of(response, 422, "audio_too_long")
    assert "10:00" in error["message"] or "600" in error["message"]


async def test_decodes_beyond_the_slots_get_busy_with_retry_after(world):
    from mediahub import decode_slot

    path, parts = wav_render_form("a.wav", wav_of(8000))
    body, headers = multipart(parts, file_type="audio/wav")
    async with world.app.app_context():
        async with contextlib.AsyncExitStack() as slots:
            for _ in range(world.host.settings.server.max_concurrent_decodes):
                await slots.enter_async_context(decode_slot())
            async with nothing_stored(world):
                response = await world.client.post(path, data=body, headers={**world.bob, **headers})
                await error_of(response, 503, "busy")
                assert int(response.headers["Retry-After"]) >= 1
    response = await world.client.post(path, data=body, headers={**world.bob, **headers})
    assert response.status_code == 200, await response.get_data()  # the slots are free again


async def test_hls_track_holding_an_hour_fails_without_retrying(world, hour_of_silence):
    init = await hls_init(world, world.bob, len(hour_of_silence), "flac")
    status, answer = await post_presigned(world.client, init["audio_upload_url"],
                                          init["audio_upload_fields"], hour_of_silence)
    assert status == 204, answer
    response = await world.client.post("/tracks/upload/complete", headers=world.bob,
                                       json={"track_id": init["track_id"]})
    assert response.status_code == 200, await response.get_data()
    final = await wait_for_status(world.client, world.bob, init["track_id"])
    assert final["status"] == "failed" and "1:00:00 long" in final["error"], final
    assert not await Track.filter(id=init["track_id"], master_ready=True).exists()
    response = await world.client.delete(f"/api/tracks/{init['track_id']}", headers=world.bob)
    assert response.status_code == 200
