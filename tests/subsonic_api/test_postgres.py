"""The plugin's tables on PostgreSQL: app passwords (token, apiKey), ratings, now playing, cleanup."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from hashlib import md5

import pytest

from mediahub import User
from mediahub.testing import login
from mediahub_subsonic_api import cleanup
from mediahub_subsonic_api.models import NowPlaying

pytestmark = pytest.mark.postgres


async def test_app_passwords_and_cleanup_on_postgres(mediahub_app_factory, postgres_url):
    app = await mediahub_app_factory(overrides={"database": {"url": postgres_url}})
    client = app.test_client()
    headers = await login(client, "paula")
    page = await client.post("/account/subsonic", form={"name": "Phone"}, headers=headers)
    password = re.search(r"data-app-password>([^<]+)<", await page.get_data(as_text=True)).group(1)
    token = md5((password + "salt").encode()).hexdigest()
    answer = await (await client.get(f"/rest/tokenInfo?u=paula&t={token}&s=salt&f=json&c=App")).get_json()
    assert answer["subsonic-response"]["status"] == "ok"
    answer = await (await client.get(f"/rest/tokenInfo?apiKey={password}&f=json&c=App")).get_json()
    assert answer["subsonic-response"]["tokenInfo"] == {"username": "paula"}
    listed = await (await client.get("/account/subsonic", headers=headers)).get_data(as_text=True)
    assert "by App" in listed
    # The sweep forgets stale now-playing reports.
    async with app.app_context():
        user = await User.get(username="paula")
        old = datetime.now(timezone.utc) - timedelta(days=2)
        await NowPlaying.create(user=user, client="x", track_id="tr-1", updated_at=old)
        await NowPlaying.create(user=user, client="y", track_id="tr-2",
                                updated_at=datetime.now(timezone.utc))
        assert await cleanup(datetime.now(timezone.utc)) == {"subsonic_now_playing": 1}
        assert [row.client for row in await NowPlaying.all()] == ["y"]
