"""Every bad input of issue 3 gets a clear 4xx and leaves nothing behind (storage and ledger)."""

from __future__ import annotations

import time
import uuid

import pytest

from mediahub import hookimpl
from mediahub.models import MediaObject
from mediahub_local_disk.backend import LocalDiskStorage
from mediahub_s3_renders.models import Message, Render
from tests.support.multipart import end, multipart, part_head
from tests.support.renders import MAX_UPLOAD, Env


async def error_of(response, status: int) -> dict:
    body = await response.get_json()
    assert response.status_code == status, body
    assert set(body["error"]) == {"code", "message"} and body["error"]["message"]
    return body["error"]


async def attached_render(env: Env, headers, data: bytes) -> tuple[dict, dict, dict]:
    thread = await env.thread(env.alice)
    message = await env.message(headers, thread["id"])
    render = await (await env.upload(data, headers)).get_json()
    response = await env.client.post(f"/api/v1/messages/{message['id']}/renders", headers=headers,
                                     json={"render": {"id": render["id"]}})
    assert response.status_code == 200
    return thread, message, render


async def test_missing_file(local):
    body, headers = multipart([("format", None, b"mp3")])
    response = await local.client.post("/api/v1/upload/audio", data=body, headers={**local.alice, **headers})
    assert "file" in (await error_of(response, 400))["message"]
    await local.assert_nothing_kept()


async def test_not_multipart_at_all(local):
    response = await local.client.post("/api/v1/upload/audio", json={"file": "x"}, headers=local.alice)
    await error_of(response, 400)
    await local.assert_nothing_kept()


async def test_non_audio_bytes_named_mp3(local):
    response = await local.upload(b"<html>not audio at all</html>" * 100, local.alice)
    await error_of(response, 415)
    await local.assert_nothing_kept()


@pytest.mark.parametrize("where", ["before", "after"])
async def test_format_and_content_mismatch(local, samples, where):
    # A WebM file declared as mp3; the field may come after the file is already stored.
    fields = {"before": {"fields": [("format", b"mp3")]},
              "after": {"fields": [], "after": [("format", b"mp3")]}}[where]
    response = await local.upload(samples["tone.webm"], local.alice, **fields)
    assert (await error_of(response, 415))["code"] == "format_mismatch"
    await local.assert_nothing_kept()


async def test_an_unknown_format_or_bad_numbers_are_refused(local, samples):
    for fields in ([("format", b"exe")], [("bitrate", b"loud")], [("duration", b"nan")],
                   [("duration", b"-3")]):
        response = await local.upload(samples["tone_id3.mp3"], local.alice, after=fields, fields=[])
        assert (await error_of(response, 400))["code"] == "invalid_field"
    await local.assert_nothing_kept()


def wav(codec: int, data_size: int) -> bytes:
    """A RIFF/WAVE file (the sniffer takes it) with the given codec tag and silent samples."""
    fmt = (codec.to_bytes(2, "little") + (1).to_bytes(2, "little") + (44100).to_bytes(4, "little")
           + (88200).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little"))
    return (b"RIFF" + (36 + data_size).to_bytes(4, "little") + b"WAVE" + b"fmt "
            + (16).to_bytes(4, "little") + fmt + b"data" + data_size.to_bytes(4, "little")
            + bytes(data_size))


@pytest.mark.parametrize("data", [wav(0x1234, 20_000), wav(1, 0)], ids=["unknown codec", "no samples"])
async def test_audio_magic_with_an_undecodable_body(local, data):
    response = await local.upload(data, local.alice, fields=[("format", b"wav")])
    assert (await error_of(response, 422))["code"] == "undecodable_audio"
    await local.assert_nothing_kept()


async def test_oversize_body_with_content_length(local):
    body, headers = multipart([("format", None, b"mp3"), ("file", "big.mp3", b"\xff\xfb\x90\x00" * (MAX_UPLOAD // 2))])
    response = await local.client.post("/api/v1/upload/audio", data=body, headers={**local.alice, **headers})
    await error_of(response, 413)
    await local.assert_nothing_kept()


async def test_oversize_chunked_body(local, samples):
    _, headers = multipart([])
    async with local.client.request("/api/v1/upload/audio", method="POST",
                                    headers={**local.alice, **headers}) as connection:
        await connection.send(part_head("file", "a.mp3") + samples["tone_bare.mp3"])
        for _ in range(6):  # 1.5 MiB against a 1 MiB cap, no Content-Length anywhere
            await connection.send(bytes(256 * 1024))
        await connection.send(b"\r\n" + end())
        await connection.send_complete()
    response = await connection.as_response()
    assert response.status_code == 413
    await local.assert_nothing_kept()


async def test_attaching_someone_elses_render(local, samples):
    thread = await local.thread(local.alice)
    message = await local.message(local.alice, thread["id"])
    bobs = await (await local.upload(samples["tone_id3.mp3"], local.bob)).get_json()
    response = await local.client.post(f"/api/v1/messages/{message['id']}/renders", headers=local.alice,
                                       json={"render": {"id": bobs["id"]}})
    await error_of(response, 404)
    # ...nor may bob attach his render to alice's message.
    response = await local.client.post(f"/api/v1/messages/{message['id']}/renders", headers=local.bob,
                                       json={"render": {"id": bobs["id"]}})
    await error_of(response, 403)
    assert (await Render.get(id=bobs["id"])).message_id is None


async def test_deleting_someone_elses_message(local, samples):
    thread, message, render = await attached_render(local, local.alice, samples["tone_id3.mp3"])
    for outsider in (local.bob, local.carol):  # a member who is not the author, a non-member
        response = await local.client.delete(f"/api/v1/messages/{message['id']}", headers=outsider)
        assert response.status_code in (403, 404)
    response = await local.client.delete(f"/api/v1/messages/{message['id']}")
    await error_of(response, 401)
    assert await Message.exists(id=message["id"]) and await Render.exists(id=render["id"])
    assert len(await local.stored_keys()) == 1


async def test_unknown_ids(local):
    for bad in (str(uuid.uuid4()), "not-a-uuid", "%00", "1" * 300):
        for method, path, body in (
                ("DELETE", f"/api/v1/messages/{bad}", None),
                ("POST", f"/api/v1/messages/{bad}/renders", {"render": {"id": str(uuid.uuid4())}}),
                ("GET", f"/api/v1/threads/{bad}/messages", None),
                ("POST", f"/api/v1/threads/{bad}/messages", {"text": "hi"}),
                ("GET", f"/api/v1/renders/{bad}", None),
                ("GET", f"/api/v1/renders/{bad}/audio", None)):
            response = await local.client.open(path, method=method, json=body, headers=local.alice)
            await error_of(response, 404)
    thread = await local.thread(local.alice)
    message = await local.message(local.alice, thread["id"])
    response = await local.client.post(f"/api/v1/messages/{message['id']}/renders", headers=local.alice,
                                       json={"render": {"id": "nope"}})
    await error_of(response, 404)


async def test_a_private_threads_render_requested_by_a_non_member(local, samples):
    thread, message, render = await attached_render(local, local.alice, samples["tone_id3.mp3"])
    for path in (f"/api/v1/renders/{render['id']}", f"/api/v1/renders/{render['id']}/audio",
                 f"/api/v1/threads/{thread['id']}/messages", f"/api/v1/threads/{thread['id']}"):
        await error_of(await local.client.get(path, headers=local.carol), 404)
    response = await local.client.post(f"/api/v1/threads/{thread['id']}/messages", headers=local.carol,
                                       json={"text": "let me in"})
    await error_of(response, 404)
    # The member gets the bytes through the host too, with Range.
    audio = await local.client.get(f"/api/v1/renders/{render['id']}/audio",
                                   headers={**local.bob, "Range": "bytes=0-9"})
    assert audio.status_code == 206 and len(await audio.get_data()) == 10


async def test_a_snapshot_over_the_cap_is_refused(local):
    thread = await local.thread(local.alice)
    response = await local.client.post(f"/api/v1/threads/{thread['id']}/messages", headers=local.alice,
                                       json={"snapshot": {"grid": "x" * 300_000}})
    assert (await error_of(response, 400))["code"] == "snapshot_too_large"
    assert await Message.all().count() == 0


async def test_unknown_members_are_refused(local):
    response = await local.client.post("/api/v1/threads", headers=local.alice,
                                       json={"title": "x", "members": ["nobody-here"]})
    assert (await error_of(response, 400))["code"] == "unknown_user"


# -- a storage failure does not block the delete ---------------------------------------------


class FlakyDisk(LocalDiskStorage):
    """local-disk whose deletes fail while `failing` is set (an S3 outage, a full disk...)."""

    failing = False

    async def delete(self, key: str) -> None:
        if FlakyDisk.failing:
            raise OSError("storage is down")
        await super().delete(key)


class FlakyDiskPlugin:
    @hookimpl
    def register_storage_backends(self):
        return {"flaky-disk": FlakyDisk.from_settings}


async def test_a_failing_storage_does_not_block_the_delete_and_the_sweep_retries(
        mediahub_app_factory, tmp_path, samples):
    overrides = {"server": {"max_upload_bytes": MAX_UPLOAD},
                 "storage": {"default": "flaky", "flaky": {"type": "flaky-disk", "root": str(tmp_path / "m")}}}
    app = await mediahub_app_factory(plugins=[("flaky-disk", FlakyDiskPlugin())], overrides=overrides)
    env = await Env(app, "flaky", {}).sign_in()
    _, message, render = await attached_render(env, env.alice, samples["tone_id3.mp3"])
    FlakyDisk.failing = True
    try:
        response = await env.client.delete(f"/api/v1/messages/{message['id']}", headers=env.alice)
        assert (await response.get_json())["renders_deleted"] == 1
        assert not await Message.exists(id=message["id"]) and not await Render.exists(id=render["id"])
        [row] = await MediaObject.all()
        assert row.state == "deleting" and "storage is down" in (row.last_error or "")
        assert len(await env.stored_keys()) == 1
    finally:
        FlakyDisk.failing = False
    counts = await env.sweep(time.time())
    assert counts["ledger_deletes_retried"] == 1
    await env.assert_nothing_kept()
