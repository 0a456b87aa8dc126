"""hls-transcode on S3 (SeaweedFS): presigned POST, complete, transcode, presigned segment URLs."""

from __future__ import annotations

import httpx
import pytest

from mediahub.models import MediaObject
from mediahub_hls_transcode.playlist import parse_master_playlist, parse_media_playlist
from tests.support.hls import make_tone, post_presigned, wait_for_status
from tests.support.hls import Env


@pytest.fixture
async def s3env(mediahub_app_factory, s3_settings):
    app = await mediahub_app_factory(overrides={
        "server": {"max_upload_bytes": 2 * 1024 * 1024},
        "storage": {"default": "s3", "s3": {**s3_settings, "key_prefix": "prod/"}},
        "jobs": {"retry_backoff": 0, "max_tries": 2},
    })
    return await Env(app).sign_in()


async def test_s3_upload_transcode_and_play(s3env, tmp_path):
    env = s3env
    data = make_tone(tmp_path / "tone.mp3", 8, title="Cloud", artist="Bucket").read_bytes()
    init = await env.init(env.alice, len(data))
    url = init["audio_upload_url"]
    assert url.startswith("http://127.0.0.1:")
    assert init["audio_upload_fields"]["key"] == f"prod/tracks/{init['track_id']}/original.mp3"

    # The storage itself refuses more bytes than were declared.
    status, body = await post_presigned(env.client, url, init["audio_upload_fields"], data + b"\0" * 64)
    assert 400 <= status < 500, body
    assert await env.keys() == []
    status, _ = await post_presigned(env.client, url, init["audio_upload_fields"], data)
    assert status in (200, 201, 204)

    code, body = await env.complete(env.alice, init["track_id"])
    assert code == 200, body
    final = await wait_for_status(env.client, env.alice, init["track_id"])
    assert final["status"] == "completed", final
    detail = await (await env.client.get(f"/api/tracks/{init['track_id']}", headers=env.alice)).get_json()
    assert (detail["title"], detail["artist_name"]) == ("Cloud", "Bucket")

    master = await env.client.get(detail["hls_master_url"])
    assert master.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    variants = parse_master_playlist((await master.get_data()).decode())
    assert len(variants) == 2
    async with httpx.AsyncClient(timeout=30) as http:
        for _, uri in variants:
            media = parse_media_playlist((await (await env.client.get(uri)).get_data()).decode())
            assert media.ended and abs(media.duration - 8) < 0.1
            for segment in [media.init] + [name for name, _ in media.segments]:
                # Presigned GETs straight from the bucket.
                assert segment.startswith("http://127.0.0.1:") and "Signature" in segment
                response = await http.get(segment)
                assert response.status_code == 200 and len(response.content) > 100

    assert any(key.endswith("/hls/a96k/index.m3u8") for key in await env.keys())
    assert (await env.client.delete(f"/api/tracks/{init['track_id']}", headers=env.alice)).status_code == 200
    assert await env.keys() == []
    assert await MediaObject.all().count() == 0
