"""Hostile input, the cases that need an app of their own: S3 (nothing left in the bucket), NUL
text on PostgreSQL, join-code guessing, and floods from one address with the production limits.

This module's name sorts first on purpose: only one app can run at a time (Tortoise has one
global context), and the shared `world` of conftest.py lives from its first case to the end of
the package, so these run before it starts."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import pytest_asyncio

from mediahub.models import MediaObject
from mediahub.testing import guest, login, make_settings, running_app
from tests.support.hostile_input import (INGEST_ROUTES, KiB, LIES, RANGES, TOO_LARGE, World, check_range,
                                         database_url, error_of, hls_init, nothing_stored, party_form,
                                         pieces, reuse_presigned_upload_after_complete, wav_of)
from tests.support.multipart import multipart
from tests.support.party import wav_bytes

pytestmark = pytest.mark.asyncio(loop_scope="package")


def s3_table(seaweedfs) -> dict:
    return {"type": "s3", "endpoint_url": seaweedfs["endpoint_url"], "region": "us-east-1",
            "bucket": f"hostile-{uuid.uuid4().hex[:16]}", "access_key_id": seaweedfs["access_key"],
            "secret_access_key": seaweedfs["secret_key"], "addressing_style": "path",
            "create_bucket": True, "max_attempts": 1,
            # Every upload is a multipart upload with the smallest parts S3 allows, so a refusal
            # in the middle of one must abort it.
            "multipart_threshold": 0, "part_size": 5 * 1024 * KiB}


S3_MAX_UPLOAD = 6 * 1024 * KiB  # more than one 5 MiB part


class S3World(World):
    """The shared world's routes, with every byte going to SeaweedFS."""

    async def snapshot(self) -> dict:
        state = await super().snapshot()
        storage = self.host.storage.default
        state["bucket"] = sorted([info.key async for info in storage.list("")])
        state["multipart uploads"] = await asyncio.to_thread(self.open_multipart_uploads)
        return state

    def open_multipart_uploads(self) -> list[str]:
        import boto3

        table = self.s3
        client = boto3.client("s3", endpoint_url=table["endpoint_url"], region_name="us-east-1",
                              aws_access_key_id=table["access_key_id"],
                              aws_secret_access_key=table["secret_access_key"])
        answer = client.list_multipart_uploads(Bucket=table["bucket"])
        return sorted(upload["Key"] for upload in answer.get("Uploads", []))


@pytest_asyncio.fixture(scope="class", loop_scope="package")
async def s3_world(seaweedfs, tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile_s3")
    table = s3_table(seaweedfs)
    overrides = {"server": {"max_upload_bytes": S3_MAX_UPLOAD},
                 "storage": {"default": "s3", "s3": table},
                 "plugins": {"listen_party": {"code_misses_per_minute": 1000}},
                 "jobs": {"retry_backoff": 0, "max_tries": 1}}
    async with running_app(make_settings(base / "data", overrides)) as app:
        world = S3World(app, base / "no-local-media", base / "outside-secret.txt")
        world.s3 = table
        client = world.client
        world.alice = await guest(client, "alice")
        world.bob = await guest(client, "bob")
        world.track_bytes = wav_bytes(0.5)
        world.track = await (await world.upload(party_form, "t.wav", world.track_bytes, world.alice)).get_json()
        assert world.track.get("ok"), world.track
        yield world


class TestOnS3:
    """Refusals leave nothing in the bucket (no object, no unfinished multipart upload)."""

    @pytest.mark.parametrize("lie", ["html with a script named .wav", "zip archive named .mp3",
                                     "truncated id3 header", "empty file"])
    @pytest.mark.parametrize("route", INGEST_ROUTES)
    async def test_lying_upload(self, s3_world, route, lie):
        filename, data = LIES[lie]
        async with nothing_stored(s3_world):
            response = await s3_world.upload(INGEST_ROUTES[route], filename, data, s3_world.bob)
            await error_of(response, 415, "unsupported_media_type")

    @pytest.mark.parametrize("route", INGEST_ROUTES)
    async def test_oversize_chunked_upload(self, s3_world, route):
        # A 5 MiB part has gone up when the cap is hit: the multipart upload must be
        # aborted, not left in the bucket (billed, invisible) for ever.
        path, parts = INGEST_ROUTES[route]("big.wav", wav_of(S3_MAX_UPLOAD + 256 * KiB))
        body, headers = multipart(parts)
        async with nothing_stored(s3_world):
            response = await s3_world.chunked("POST", path, s3_world.bob, headers, pieces(body, 1024 * KiB))
            await error_of(response, 413, TOO_LARGE)

    @pytest.mark.parametrize("case", ["bytes=-10 (suffix)", "bytes=enormous-", "bytes=-enormous",
                                      "bytes=-0 (empty suffix)", "bytes=abc", "1000 disjoint ranges",
                                      "bytes=size- (just past the end)"])
    async def test_range_header_through_the_host(self, s3_world, case):
        await check_range(s3_world, s3_world.track["trackUrl"], s3_world.alice, s3_world.track_bytes,
                          RANGES[case][0], RANGES[case][1])

    async def test_presigned_upload_cannot_be_reused_after_complete(self, s3_world):
        # S3 cannot retire a policy: the second posts are stored under keys nothing reads.
        await reuse_presigned_upload_after_complete(s3_world, s3_world.bob)

    async def test_hls_complete_deletes_a_fake_file_from_the_bucket(self, s3_world):
        import httpx

        filename, data = LIES["html with a script named .wav"]
        init = await hls_init(s3_world, s3_world.bob, len(data), "wav")
        assert init["audio_upload_url"].startswith("http://127.0.0.1")  # straight to SeaweedFS
        before = await s3_world.snapshot()
        async with httpx.AsyncClient() as http:
            answer = await http.post(init["audio_upload_url"], data=init["audio_upload_fields"],
                                     files={"file": (filename, data, "audio/wav")})
        assert answer.status_code in (200, 201, 204), answer.text
        response = await s3_world.client.post("/tracks/upload/complete", headers=s3_world.bob,
                                              json={"track_id": init["track_id"]})
        await error_of(response, 415, "unsupported_media_type")
        assert await s3_world.snapshot() == before


async def test_nul_characters_in_stored_text_on_postgresql(tmp_path):
    # SQLite stores NUL characters; PostgreSQL refuses them in text (the insert raised a 500).
    async with database_url("postgres") as url:
        settings = make_settings(tmp_path / "data", {
            "database": {"url": url},
            "storage": {"default": "local", "local": {"type": "local-disk", "root": str(tmp_path / "m")}}})
        async with running_app(settings) as app:
            client = app.test_client()
            who = await guest(client, "pg")
            thread = await (await client.post("/api/v1/threads", headers=who, json={"title": "t"})).get_json()
            for path, body, status in (
                    ("/api/v1/threads", {"title": "a\x00b"}, 400),
                    ("/api/v1/threads", {"title": "t", "members": ["a\x00b"]}, 400),
                    (f"/api/v1/threads/{thread['id']}/messages", {"text": "a\x00b"}, 400),
                    ("/tracks/upload/init", {"title": "a\x00b", "file_extension": "mp3", "file_size": 10}, 400),
                    ("/tracks/upload/init", {"artist_name": "a\x00b", "file_extension": "mp3",
                                             "file_size": 10}, 400),
                    ("/tracks/upload/complete", {"track_id": "a\x00b"}, 400),
                    ("/api/auth/guest", {"display_name": "a\x00b"}, 400),
                    # No account has that name: the sign-in fails like any wrong one.
                    ("/api/auth/login", {"username": "a\x00b", "password": "whatever you like"}, 401)):
                await error_of(await client.post(path, headers=who, json=body), status)
            body, headers = multipart([("audio", "s.wav", wav_of(1000)), ("sessionId", None, b"pg-1"),
                                       ("songTitle", None, b"a\x00b")])
            response = await client.post("/api/temp-upload/upload-temp", data=body, headers={**who, **headers})
            await error_of(response, 400, "bad_request")
            assert await MediaObject.all().count() == 0


async def test_join_code_guessing_is_rate_limited(tmp_path):
    settings = make_settings(tmp_path / "data", {"plugins": {"listen_party": {"code_misses_per_minute": 10}}})
    async with running_app(settings) as app:
        client = app.test_client()
        host = await guest(client, "host")
        party = await (await client.post("/api/parties", headers=host, json={"name": "secret"})).get_json()
        statuses = []
        for attempt in range(40):  # an anonymous client trying codes, as a script would
            wrong = f"ZZZ{attempt:03d}"
            response = await client.post(f"/api/parties/{wrong}/join", json={"display_name": "guess"})
            statuses.append(response.status_code)
            if response.status_code == 429:
                error = await error_of(response, 429, "too_many_requests")
                assert int(response.headers["Retry-After"]) >= 1 and "secret" not in error["message"]
                break
        assert 429 in statuses, statuses
        assert set(statuses[:-1]) == {404}
        # The page and the API lookup are behind the same limit, and so is the right code now.
        for path in (f"/party/{party['code']}", "/party/ZZZ999"):
            response = await client.get(path)
            assert response.status_code == 429
            assert b"secret" not in await response.get_data()
        response = await client.post(f"/api/parties/{party['code']}/join", json={"display_name": "x"})
        await error_of(response, 429, "too_many_requests")


@pytest_asyncio.fixture(loop_scope="package")
async def limited_app(tmp_path_factory):
    """An app with the production per-address limits (the shared one turns them off)."""
    base = tmp_path_factory.mktemp("address_limits")
    settings = make_settings(base / "data", {"auth": {"guests_per_address_per_minute": 60,
                                                      "failed_sign_ins_per_address_per_minute": 30}})
    async with running_app(settings) as app:
        yield app


def pin_minute(monkeypatch, minute: int) -> None:
    """The limits count per clock minute; pinned mid-minute, no window ends during a test."""
    from mediahub import address_limits

    monkeypatch.setattr(address_limits, "clock", lambda: minute * 60 + 30.0)


async def test_a_room_of_30_guests_behind_one_nat_gets_in_but_a_flood_does_not(limited_app, monkeypatch):
    from mediahub.models import User

    pin_minute(monkeypatch, 28_000_000)

    client = limited_app.test_client()
    host = await login(client, "nat-host")
    party = await (await client.post("/api/parties", headers=host, json={"name": "room"})).get_json()
    # 30 real guests in a few seconds, from one address: half through the API, half joining.
    for index in range(30):
        guest_client = limited_app.test_client()
        if index % 2:
            response = await guest_client.post("/api/auth/guest", json={"display_name": f"g{index}"})
            assert response.status_code == 201, await response.get_data()
        else:
            response = await guest_client.post(f"/api/parties/{party['code']}/join",
                                               json={"display_name": f"g{index}"})
            assert response.status_code == 200, await response.get_data()
    # A script goes on: the limit is reached, and no account is made past it.
    refused = None
    for _ in range(40):
        response = await limited_app.test_client().post(f"/api/parties/{party['code']}/join",
                                                        json={"display_name": "bot"})
        if response.status_code != 200:
            refused = response
            break
    assert refused is not None, "60 guests a minute from one address were all made"
    await error_of(refused, 429, "too_many_requests")
    assert int(refused.headers["Retry-After"]) >= 1
    guests = await User.filter(is_guest=True).count()
    assert guests == 60
    response = await limited_app.test_client().post("/api/auth/guest", json={})
    await error_of(response, 429, "too_many_requests")
    assert await User.filter(is_guest=True).count() == 60


async def test_failed_sign_ins_across_usernames_are_limited_per_address(limited_app, monkeypatch):
    pin_minute(monkeypatch, 28_000_010)
    client = limited_app.test_client()
    await login(client, "victim")
    statuses = []
    for index in range(31):
        response = await client.post("/api/auth/login", json={"username": f"user{index}",
                                                              "password": "wrong password!"})
        statuses.append(response.status_code)
    assert statuses[:30] == [401] * 30
    await error_of(response, 429, "too_many_requests")
    assert int(response.headers["Retry-After"]) >= 1
    # The right password from that address waits too: the address is what is limited.
    response = await client.post("/api/auth/login", json={"username": "victim",
                                                          "password": "correct horse battery"})
    await error_of(response, 429, "too_many_requests")
