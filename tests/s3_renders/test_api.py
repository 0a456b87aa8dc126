"""Threads, messages and audio renders through the HTTP API, on local-disk and on S3 (SeaweedFS)."""

from __future__ import annotations

import time
import uuid

import boto3
import httpx

from mediahub.models import MediaObject
from mediahub_s3_renders.models import Message, Render
from tests.support.renders import Env, app_overrides

async def fetch(env: Env, url: str) -> httpx.Response | object:
    """GET a render URL: host-relative ones through the app, absolute ones (S3) over HTTP."""
    if url.startswith("/"):
        return await env.client.get(url)
    async with httpx.AsyncClient() as http:
        return await http.get(url)


async def body_of(response) -> bytes:
    return response.content if isinstance(response, httpx.Response) else await response.get_data()


# -- the lifecycle, on both backends ----------------------------------------------------------


async def test_upload_attach_list_play_and_delete_a_render(env, samples):
    data = samples["tone_id3.mp3"]
    thread = await env.thread(env.alice)
    message = await env.message(env.alice, thread["id"], snapshot_metadata={"name": "loop"})

    response = await env.upload(data, env.alice, fields=[("format", b"mp3"), ("bitrate", b"320"),
                                                         ("duration", b"9.5")])
    render = await response.get_json()
    assert response.status_code == 200, render
    assert set(render) >= {"id", "url", "format", "bitrate", "duration", "size_bytes", "created_at"}
    assert render["format"] == "mp3" and render["size_bytes"] == len(data)
    assert abs(render["duration"] - 1.0) < 0.1  # the client's 9.5 s was a lie: measured instead
    assert 0 < len(render["peaks"]) <= 200 and max(render["peaks"]) > 0.1  # a -18 dB sine
    assert render["created_at"].endswith("Z")
    # The seed's key layout: {prefix}renders/{uuid}.{format}.
    row = await MediaObject.get(id=(await Render.get(id=render["id"])).media_id)
    assert row.key == f"renders/{uuid.UUID(render['id']).hex}.mp3" and row.state == "stored"
    if env.kind == "s3":
        client = boto3.client("s3", endpoint_url=env.table["endpoint_url"],
                              aws_access_key_id=env.table["access_key_id"],
                              aws_secret_access_key=env.table["secret_access_key"],
                              region_name="us-east-1")
        listed = client.list_objects_v2(Bucket=env.table["bucket"])["Contents"]
        assert [item["Key"] for item in listed] == [f"prod/{row.key}"]

    attached = await env.client.post(f"/api/v1/messages/{message['id']}/renders", headers=env.alice,
                                     json={"render": render})
    assert await attached.get_json() == {"status": "render_attached", "message_id": message["id"]}

    for viewer in (env.alice, env.bob):
        listing = await env.client.get(f"/api/v1/threads/{thread['id']}/messages", headers=viewer)
        messages = (await listing.get_json())["messages"]
        assert [m["id"] for m in messages] == [message["id"]]
        assert messages[0]["snapshot"] == {"bpm": 120}
        assert messages[0]["snapshot_metadata"] == {"name": "loop"}
        [listed_render] = messages[0]["renders"]
        assert listed_render["id"] == render["id"] and listed_render["peaks"] == render["peaks"]
        played = await fetch(env, listed_render["url"])
        assert played.status_code == 200 and await body_of(played) == data
    # Private: the URL is signed and expires, never the public CDN address.
    assert "cdn.example.test" not in listed_render["url"]
    assert ("X-Amz-Signature=" in listed_render["url"] if env.kind == "s3"
            else "sig=" in listed_render["url"] and "exp=" in listed_render["url"])

    # Carol is no member: neither the messages nor the render exist for her.
    assert (await env.client.get(f"/api/v1/threads/{thread['id']}/messages", headers=env.carol)).status_code == 404
    assert (await env.client.get(f"/api/v1/renders/{render['id']}", headers=env.carol)).status_code == 404
    assert (await env.client.get(f"/api/v1/renders/{render['id']}", headers=env.bob)).status_code == 200

    refused = await env.client.delete(f"/api/v1/messages/{message['id']}", headers=env.bob)
    assert refused.status_code == 403
    deleted = await env.client.delete(f"/api/v1/messages/{message['id']}", headers=env.alice)
    assert await deleted.get_json() == {"status": "deleted", "id": message["id"], "renders_deleted": 1}
    await env.assert_nothing_kept()
    assert await Message.all().count() == 0


async def test_public_threads_may_use_the_public_base_url(env, samples):
    thread = await env.thread(env.alice, private=False, members=())
    message = await env.message(env.alice, thread["id"])
    render = await (await env.upload(samples["tone_id3.mp3"], env.alice)).get_json()
    await env.client.post(f"/api/v1/messages/{message['id']}/renders", headers=env.alice,
                          json={"render": {"id": render["id"]}})
    listing = await env.client.get(f"/api/v1/threads/{thread['id']}/messages", headers=env.carol)
    [listed] = (await listing.get_json())["messages"][0]["renders"]
    if env.kind == "s3":
        assert listed["url"] == (f"https://cdn.example.test/media/prod/renders/"
                                 f"{uuid.UUID(render['id']).hex}.mp3")
    else:  # local-disk has no CDN: a signed URL, which plays
        assert (await fetch(env, listed["url"])).status_code == 200


async def test_the_thread_owner_may_delete_a_members_message(env, samples):
    thread = await env.thread(env.alice)
    message = await env.message(env.bob, thread["id"])
    render = await (await env.upload(samples["tone.webm"], env.bob, fields=[("format", b"webm")])).get_json()
    assert render["format"] == "webm" and render["duration"] > 0.5
    await env.client.post(f"/api/v1/messages/{message['id']}/renders", headers=env.bob,
                          json={"render": {"id": render["id"]}})
    deleted = await env.client.delete(f"/api/v1/messages/{message['id']}", headers=env.alice)
    assert (await deleted.get_json())["renders_deleted"] == 1
    await env.assert_nothing_kept()


async def test_unattached_renders_are_swept_after_the_grace_period(env, samples):
    render = await (await env.upload(samples["tone_id3.mp3"], env.alice)).get_json()
    early = await env.sweep(time.time())
    assert early.get("unattached_renders", 0) == 0
    assert await Render.exists(id=render["id"])
    grace = env.host.settings.server.orphan_grace
    counts = await env.sweep(time.time() + grace + 60)
    assert counts["unattached_renders"] == 1
    await env.assert_nothing_kept()


async def test_an_object_under_renders_without_a_ledger_row_is_swept(env, samples):
    async def chunks():
        yield samples["tone_id3.mp3"]

    await env.storage.put("renders/orphan.mp3", chunks(), "audio/mpeg")
    grace = env.host.settings.server.orphan_grace
    assert "renders/orphan.mp3" in await env.stored_keys()
    counts = await env.sweep(time.time() + grace + 60)
    assert counts["orphans_removed"] == 1
    assert await env.stored_keys() == []


# -- the seed's token field -------------------------------------------------------------------


async def test_the_seed_token_form_field_authenticates(local, samples):
    token = local.alice["Authorization"].split()[1].encode()
    app_client = local.app.test_client()  # like the seed's app: no cookies at all
    response = await local.upload(samples["tone_id3.mp3"], {}, fields=[("token", token), ("format", b"mp3")],
                                  client=app_client)
    render = await response.get_json()
    assert response.status_code == 200, render
    row = await MediaObject.get(id=(await Render.get(id=render["id"])).media_id)
    assert row.owner_id is not None

    thread = await local.thread(local.alice)
    message = await local.message(local.alice, thread["id"])
    attached = await app_client.post(f"/api/v1/messages/{message['id']}/renders",
                                     json={"token": token.decode(), "render": render})
    assert attached.status_code == 200
    deleted = await app_client.delete(f"/api/v1/messages/{message['id']}?token={token.decode()}")
    assert (await deleted.get_json())["status"] == "deleted"


async def test_a_bad_token_field_is_401_and_keeps_nothing(local, samples):
    app_client = local.app.test_client()
    response = await local.upload(samples["tone_id3.mp3"], {}, fields=[("token", b"not-a-token")],
                                  client=app_client)
    assert response.status_code == 401
    await local.assert_nothing_kept()
    response = await local.upload(samples["tone_id3.mp3"], {}, client=app_client)
    assert response.status_code == 401
    await local.assert_nothing_kept()


NOT_AUDIO = b"<!doctype html><html>" + bytes(4096)


async def test_credentials_are_checked_before_the_file_is_read(local, samples):
    """The seed's client: token, format, bitrate, duration, then the file; no other header."""
    app_client = local.app.test_client()
    seed_fields = [("token", b"not-a-token"), ("format", b"mp3"), ("bitrate", b"320"),
                   ("duration", b"45.5")]
    response = await local.upload(NOT_AUDIO, {}, fields=seed_fields, client=app_client)
    assert response.status_code == 401, await response.get_json()  # not 415: the file was not sniffed
    assert (await response.get_json())["error"]["code"] == "unauthorized"
    # A token after the file: the file may be read, but the answer is still 401, nothing kept.
    for data in (NOT_AUDIO, samples["tone_id3.mp3"]):
        response = await local.upload(data, {}, fields=[("format", b"mp3")],
                                      after=[("token", b"not-a-token")], client=app_client)
        assert response.status_code == 401, await response.get_json()
    response = await local.upload(samples["tone_id3.mp3"], {}, fields=[("format", b"flac")],
                                  after=[("token", b"not-a-token")], client=app_client)
    assert response.status_code == 401  # not the format mismatch: that is for a signed-in caller
    await local.assert_nothing_kept()
    # With a good token after the file, the file's own problems are told.
    token = local.alice["Authorization"].split()[1].encode()
    response = await local.upload(NOT_AUDIO, {}, fields=[("format", b"mp3")], after=[("token", token)],
                                  client=app_client)
    assert response.status_code == 415, await response.get_json()
    await local.assert_nothing_kept()


# -- pages, menu and settings ------------------------------------------------------------------


async def test_thread_pages_and_menu_item(local):
    anonymous = local.app.test_client()
    response = await anonymous.get("/threads", headers={"Accept": "text/html"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = await local.client.get("/threads", headers={**local.alice, "Accept": "text/html"})
    html = (await page.get_data()).decode()
    assert page.status_code == 200 and 'href="/threads"' in html and "Create thread" in html
    thread = await local.thread(local.alice)
    page = await local.client.get(f"/threads/{thread['id']}", headers={**local.alice, "Accept": "text/html"})
    assert page.status_code == 200 and "Band practice" in (await page.get_data()).decode()
    hidden = await local.client.get(f"/threads/{thread['id']}", headers={**local.carol, "Accept": "text/html"})
    assert hidden.status_code == 404


async def test_the_plugin_settings_are_used(mediahub_app_factory, tmp_path, samples):
    overrides, table = app_overrides("local", tmp_path, None)
    overrides["plugins"] = {"s3_renders": {"waveform_peaks": 20, "max_snapshot_bytes": 2048}}
    env = await Env(await mediahub_app_factory(overrides=overrides), "local", table).sign_in()
    render = await (await env.upload(samples["tone_id3.mp3"], env.alice)).get_json()
    assert len(render["peaks"]) == 20
    thread = await env.thread(env.alice)
    response = await env.client.post(f"/api/v1/threads/{thread['id']}/messages", headers=env.alice,
                                     json={"snapshot": {"grid": "x" * 3000}})
    assert response.status_code == 400
