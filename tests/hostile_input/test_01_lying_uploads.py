"""Hostile input: uploads that lie about their type."""

from __future__ import annotations

import time

import pytest

from mediahub_hls_transcode.models import Track
from tests.support.hostile_input import (INGEST_ROUTES, LIES, error_of, hls_init, nothing_stored,
                                         presigned_form, reuse_presigned_upload_after_complete, wav_of)

pytestmark = pytest.mark.asyncio(loop_scope="package")


@pytest.mark.parametrize("lie", LIES)
@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_lying_upload_is_refused(world, route, lie):
    filename, data = LIES[lie]
    async with nothing_stored(world):
        response = await world.upload(INGEST_ROUTES[route], filename, data, world.bob)
        await error_of(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("route", INGEST_ROUTES)
async def test_raw_upload_body_with_an_audio_content_type(world, route):
    # Not even multipart: `Content-Type: audio/mpeg` and HTML bytes.
    path, _ = INGEST_ROUTES[route]("x.mp3", b"")
    async with nothing_stored(world):
        response = await world.client.post(path, data=b"<html>" * 100,
                                           headers={**world.bob, "Content-Type": "audio/mpeg"})
        await error_of(response, 400, "bad_request")


@pytest.mark.parametrize("lie", [name for name in LIES if name != "empty file"])
async def test_hls_complete_refuses_a_fake_file_and_deletes_it(world, lie):
    filename, data = LIES[lie]
    init = await hls_init(world, world.bob, len(data), filename.rpartition(".")[2])
    before = await world.snapshot()
    body, headers = presigned_form(init, data, filename=filename)
    response = await world.client.post(init["audio_upload_url"], data=body, headers=headers)
    assert response.status_code == 204  # like S3, the receiver stores any bytes its policy allows
    response = await world.client.post("/tracks/upload/complete", headers=world.bob,
                                       json={"track_id": init["track_id"]})
    await error_of(response, 415, "unsupported_media_type")
    assert await world.snapshot() == before  # the fake file is gone, no job was queued
    track = await Track.get(id=init["track_id"])
    assert track.status == "pending" and track.job_id is None


async def test_presigned_upload_cannot_be_reused_after_complete(world):
    assert await reuse_presigned_upload_after_complete(world, world.bob)  # local-disk refuses


async def test_hls_empty_upload_is_refused(world):
    init = await hls_init(world, world.bob, 10)
    async with nothing_stored(world):
        body, headers = presigned_form(init, b"")
        response = await world.client.post(init["audio_upload_url"], data=body, headers=headers)
        await error_of(response, 400, "bad_request")


# The receiver's lies are about its signed policy: each field changed after signing.
POLICY_TAMPERING = {
    "content_type changed to text/html": ("content_type", "text/html"),
    "key changed to another object": ("key", "uploads/someone-else.mp3"),
    "key changed to ../ outside the root": ("key", "../outside-secret.txt"),
    "key changed to an absolute path": ("key", "/etc/passwd"),
    "max_size raised": ("max_size", str(10 ** 9)),
    "exp pushed to the future": ("exp", str(int(time.time()) + 10 ** 6)),
    "exp in the past": ("exp", "1"),
    "backend changed": ("backend", "other"),
    "sig removed": ("sig", ""),
    "sig of another policy": ("sig", "0" * 64),
}


@pytest.mark.parametrize("tampering", POLICY_TAMPERING)
async def test_receiver_refuses_a_tampered_policy(world, tampering):
    init = await hls_init(world, world.bob, 1000)
    name, value = POLICY_TAMPERING[tampering]
    fields = {**init["audio_upload_fields"], name: value}
    async with nothing_stored(world):
        body, headers = presigned_form(init, wav_of(1000 - 44), fields)
        response = await world.client.post(init["audio_upload_url"], data=body, headers=headers)
        await error_of(response, 403, "forbidden")
    assert world.outside.read_text() == "TOP-SECRET-OUTSIDE-THE-ROOT"


@pytest.mark.parametrize("backend", ["nope", "..", "%2e%2e", "local%00", "local%5c..", "s3"])
async def test_receiver_refuses_unknown_backends(world, backend):
    init = await hls_init(world, world.bob, 1000)
    async with nothing_stored(world):
        body, headers = presigned_form(init, wav_of(1000 - 44))
        response = await world.client.post(f"/media/upload/{backend}", data=body, headers=headers)
        await error_of(response, 404, "not_found")
