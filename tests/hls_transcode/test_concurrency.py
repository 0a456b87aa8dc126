"""Issue 13 (decode bounds, HLS): transcodes started by uploads are bounded by the job runner.

`/tracks/upload/complete` never runs ffmpeg in the request: it queues an `hls_transcode`
job, and at most `[jobs] concurrency` of them run per process (each ffmpeg killed at
`transcode_timeout`, tracks over `max_duration_seconds` refused). So completing one more
upload than there are places makes it wait in the queue, as `decode_slot` makes a render's
decode wait; the request itself holds nothing.
"""

from __future__ import annotations

import asyncio

import pytest

from mediahub.models import Job
from mediahub.testing import login
from tests.support.hls import make_tone, post_presigned, wait_for_status

UPLOADS = 3  # one more than the places (and one more again)


@pytest.fixture(scope="module")
def tone(tmp_path_factory) -> bytes:
    return make_tone(tmp_path_factory.mktemp("hls_bound") / "tone.mp3", 8).read_bytes()


async def test_one_more_transcode_than_the_places_waits_its_turn(mediahub_app_factory, tmp_path, tone):
    app = await mediahub_app_factory(overrides={
        "storage": {"default": "local", "local": {"type": "local-disk", "root": str(tmp_path / "m")}},
        "jobs": {"concurrency": 1, "retry_backoff": 0},
    })
    client = app.test_client()
    alice = await login(client, "alice")
    ids = []
    for _ in range(UPLOADS):
        init = await (await client.post("/tracks/upload/init", headers=alice, json={
            "title": "", "artist_name": "", "file_extension": "mp3", "file_size": len(tone)})).get_json()
        status, _ = await post_presigned(client, init["audio_upload_url"], init["audio_upload_fields"], tone)
        assert status == 204
        ids.append(init["track_id"])
    for track_id in ids:
        response = await client.post("/tracks/upload/complete", headers=alice, json={"track_id": track_id})
        assert response.status_code == 200, await response.get_json()

    # Watch the jobs until all are done: never two running, and some seen waiting meanwhile.
    most_running, waited = 0, False
    for _ in range(3000):
        states = await Job.filter(name="hls_transcode").values_list("state", flat=True)
        running = states.count("running")
        most_running = max(most_running, running)
        waited = waited or (running == 1 and states.count("queued") >= 1)
        if states and all(state == "done" for state in states):
            break
        await asyncio.sleep(0.02)
    assert len(states) == UPLOADS and all(state == "done" for state in states), states
    assert most_running == 1
    assert waited
    for track_id in ids:
        assert (await wait_for_status(client, alice, track_id))["status"] == "completed"
