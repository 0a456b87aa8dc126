"""Presigned local-disk uploads work without hls-transcode: local-disk receives its own URLs.

A plugin of this test presigns uploads on local-disk (as hls-transcode does) and answers the
`presigned_upload_open` hook; hls-transcode is disabled, so before local-disk owned
`POST /media/upload/<backend>` every one of these posts was a 404."""

from __future__ import annotations


import pytest

from mediahub import hookimpl
from tests.support.multipart import multipart

class Presigner:
    """A plugin that hands out presigned local-disk uploads and says which are still open."""

    def __init__(self):
        self.open: dict[str, bool] = {}  # key -> still waiting for its upload

    @hookimpl(optionalhook=True)
    def presigned_upload_open(self, backend, key):
        return self.open.get(key) if backend == "local" else None


def form(fields: dict, data: bytes, *, file_first: bool = False) -> tuple[bytes, dict]:
    parts = [(name, None, str(value).encode()) for name, value in fields.items()]
    file_part = ("file", "x.bin", data)
    parts = [file_part, *parts] if file_first else [*parts, file_part]
    return multipart(parts, file_type=None)


@pytest.fixture
async def world(mediahub_app_factory):
    presigner = Presigner()
    app = await mediahub_app_factory(plugins=[("presigner", presigner)],
                                     overrides={"plugins": {"disabled": ["hls-transcode"]}})
    host = app.extensions["mediahub"]
    assert host.plugins.records["hls-transcode"].status == "disabled"
    return app, host, presigner


async def presign(host, presigner, key: str, max_size: int = 1000) -> tuple[str, dict]:
    upload = await host.storage.get("local").presign_upload(key, "audio/wav", max_size, 600)
    presigner.open[key] = True
    return upload.url, dict(upload.fields)


async def stored(host, key: str) -> bytes | None:
    storage = host.storage.get("local")
    stat = await storage.stat(key)
    if stat is None:
        return None
    return b"".join([chunk async for chunk in storage.open_range(key, 0, stat.size - 1)])


async def test_a_presigned_upload_is_stored_with_hls_transcode_disabled(world):
    app, host, presigner = world
    url, fields = await presign(host, presigner, "presigned/a.wav")
    assert url == "/media/upload/local"
    body, headers = form(fields, b"RIFF" + bytes(100))
    response = await app.test_client().post(url, data=body, headers=headers)
    assert response.status_code == 204, await response.get_data()
    assert await stored(host, "presigned/a.wav") == b"RIFF" + bytes(100)


async def test_a_done_upload_refuses_its_still_valid_policy(world):
    app, host, presigner = world
    url, fields = await presign(host, presigner, "presigned/b.wav")
    client = app.test_client()
    body, headers = form(fields, b"first")
    response = await client.post(url, data=body, headers=headers)
    assert response.status_code == 204
    presigner.open["presigned/b.wav"] = False  # the plugin checked the file: no more writes
    body, headers = form(fields, b"<html>replaced</html>")
    response = await client.post(url, data=body, headers=headers)
    assert response.status_code == 403
    assert (await response.get_json())["error"]["code"] == "forbidden"
    assert await stored(host, "presigned/b.wav") == b"first"


async def test_a_policy_no_plugin_vouches_for_is_refused(world):
    app, host, presigner = world
    url, fields = await presign(host, presigner, "presigned/c.wav")
    del presigner.open["presigned/c.wav"]
    body, headers = form(fields, b"data")
    response = await app.test_client().post(url, data=body, headers=headers)
    assert response.status_code == 403
    assert await stored(host, "presigned/c.wav") is None


# A fixed later expiry (2100): parameters must be the same in every pytest-xdist worker.
@pytest.mark.parametrize("field, value", [("key", "presigned/other.wav"), ("max_size", "100000"),
                                          ("exp", "4102444800"), ("sig", "0" * 64)])
async def test_a_tampered_policy_is_refused(world, field, value):
    app, host, presigner = world
    url, fields = await presign(host, presigner, "presigned/d.wav")
    presigner.open["presigned/other.wav"] = True
    body, headers = form({**fields, field: value}, b"data")
    response = await app.test_client().post(url, data=body, headers=headers)
    assert response.status_code == 403
    assert await stored(host, "presigned/d.wav") is None
    assert await stored(host, "presigned/other.wav") is None


async def test_sizes_are_capped_and_an_empty_file_is_refused(world):
    app, host, presigner = world
    client = app.test_client()
    url, fields = await presign(host, presigner, "presigned/e.wav", max_size=1000)
    body, headers = form(fields, bytes(1001))
    response = await client.post(url, data=body, headers=headers)
    assert response.status_code == 413
    assert await stored(host, "presigned/e.wav") is None
    body, headers = form(fields, b"")
    response = await client.post(url, data=body, headers=headers)
    assert response.status_code == 400
    assert await stored(host, "presigned/e.wav") is None


async def test_the_file_before_the_policy_is_refused_unread(world):
    """Like S3: the policy fields come first; a file part before them is judged without them."""
    app, host, presigner = world
    url, fields = await presign(host, presigner, "presigned/f.wav")
    body, headers = form(fields, b"data", file_first=True)
    response = await app.test_client().post(url, data=body, headers=headers)
    assert response.status_code == 403
    assert await stored(host, "presigned/f.wav") is None


async def test_the_receiver_is_in_the_openapi_document_without_hls_transcode(world):
    app, _, _ = world
    spec = await (await app.test_client().get("/openapi.json")).get_json()
    operation = spec["paths"]["/media/upload/{backend}"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
