"""Shared pieces of the s3-renders tests: an app on local-disk or S3 with three signed-in users."""

from __future__ import annotations

from pathlib import Path

from mediahub.models import MediaObject
from mediahub.scheduler import run_sweep
from mediahub.testing import login
from mediahub_s3_renders.models import Render
from tests.support.multipart import multipart

MAX_UPLOAD = 1024 * 1024


class Env:
    """A started app, its test client, the users alice (author), bob (member), carol (outsider)."""

    def __init__(self, app, kind: str, table: dict):
        self.app, self.kind, self.table = app, kind, table
        self.host = app.extensions["mediahub"]
        self.client = app.test_client()

    async def sign_in(self):
        self.alice = await login(self.client, "alice")
        self.bob = await login(self.client, "bob")
        self.carol = await login(self.client, "carol")
        return self

    async def sweep(self, now: float) -> dict[str, int]:
        """One sweep as the scheduler runs it (inside the app's context)."""
        async with self.app.app_context():
            return await run_sweep(self.host, now)

    @property
    def storage(self):
        return self.host.storage.default

    async def stored_keys(self) -> list[str]:
        return sorted([info.key async for info in self.storage.list("")])

    async def upload(self, data: bytes, headers: dict, fields=(("format", b"mp3"),), after=(),
                     client=None):
        body, form_headers = multipart([*[(n, None, v) for n, v in fields], ("file", "take.mp3", data),
                                        *[(n, None, v) for n, v in after]])
        return await (client or self.client).post("/api/v1/upload/audio", data=body,
                                      headers={**headers, **form_headers})

    async def thread(self, headers, *, private=True, members=("bob",)) -> dict:
        response = await self.client.post("/api/v1/threads", headers=headers, json={
            "title": "Band practice", "is_private": private, "members": list(members)})
        assert response.status_code == 201, await response.get_json()
        return await response.get_json()

    async def message(self, headers, thread_id: str, **body) -> dict:
        response = await self.client.post(f"/api/v1/threads/{thread_id}/messages", headers=headers,
                                          json={"text": "take 1", "snapshot": {"bpm": 120}, **body})
        assert response.status_code == 201, await response.get_json()
        return await response.get_json()

    async def assert_nothing_kept(self):
        assert await MediaObject.all().count() == 0
        assert await Render.all().count() == 0
        assert await self.stored_keys() == []


def app_overrides(kind: str, tmp_path: Path, s3_table: dict | None) -> tuple[dict, dict]:
    if kind == "local":
        table = {"type": "local-disk", "root": str(tmp_path / "media")}
    else:
        table = {**s3_table, "key_prefix": "prod/", "public_base_url": "https://cdn.example.test/media"}
    return {"server": {"max_upload_bytes": MAX_UPLOAD},
            "storage": {"default": kind, kind: table}}, table


