"""`party_service()`: another plugin lists a user's parties, reads one's public state and joins it,
with the party API's rules (members only, unknown codes guarded), and nothing once it ends."""

from __future__ import annotations

import pytest

from mediahub import Forbidden, NotFound, TooManyRequests, first_result, hookimpl
from mediahub.models import User
from mediahub.testing import login


class ServiceSpy:
    """A third-party plugin asked first; it answers None, so listen-party's service wins."""

    def __init__(self):
        self.asked = 0

    @hookimpl(tryfirst=True, optionalhook=True)
    def party_service(self):
        self.asked += 1


async def test_the_service_lists_reads_and_joins_parties(mediahub_app_factory):
    spy = ServiceSpy()
    app = await mediahub_app_factory(plugins=[("party-spy", spy)])
    client = app.test_client()
    alice = await login(client, "alice")
    await login(client, "bob")
    created = await (await client.post("/api/parties", json={"name": "Porch"},
                                       headers=alice)).get_json()
    code = created["code"]
    async with app.app_context():
        service = await first_result("party_service")
        assert spy.asked == 1 and service is not None
        host, bob = await User.get(username="alice"), await User.get(username="bob")

        (hosted,) = await service.parties(host)
        assert (hosted["code"], hosted["name"], hosted["role"], hosted["memberCount"]) == (
            code, "Porch", "host", 1)
        assert hosted["sessionId"] == created["sessionId"] and hosted["url"] == f"/party/{code}"
        assert hosted["track"] is None and hosted["queue"] == [] and hosted["playing"] is False
        assert hosted["version"] == created["state"]["version"] and hosted["serverTime"] > 0

        # Bob has not joined: he sees no party and may not read this one.
        assert await service.parties(bob) == []
        with pytest.raises(Forbidden):
            await service.state(bob, code)
        joined = await service.join(bob, code.lower(), display_name="Bob's phone")
        assert (joined["role"], joined["memberCount"], joined["hostName"]) == ("guest", 2, "alice")
        assert (await service.state(bob, code))["code"] == code
        assert [p["code"] for p in await service.parties(bob)] == [code]
        members = (await (await client.get(f"/api/parties/{code}", headers=alice)).get_json())["members"]
        assert "Bob's phone" in [m["name"] for m in members]

    # Once it ends it is gone for everyone.
    assert (await client.post(f"/api/parties/{code}/end", headers=alice)).status_code == 200
    async with app.app_context():
        assert await service.parties(bob) == [] and await service.parties(host) == []
        with pytest.raises(NotFound):
            await service.state(bob, code)


async def test_unknown_codes_count_against_the_guessing_limit(mediahub_app_factory):
    app = await mediahub_app_factory(
        overrides={"plugins": {"listen_party": {"code_misses_per_minute": 2}}})
    client = app.test_client()
    await login(client, "carol")
    async with app.app_context():
        service = await first_result("party_service")
        carol = await User.get(username="carol")
        for _ in range(2):
            with pytest.raises(NotFound):
                await service.join(carol, "NOPE22", ip="198.51.100.7")
        with pytest.raises(TooManyRequests):
            await service.state(carol, "NOPE33", ip="198.51.100.7")


async def test_no_service_and_no_extension_when_listen_party_is_disabled(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"plugins": {"disabled": ["listen-party"]}})
    async with app.app_context():
        assert await first_result("party_service") is None
    answer = await (await app.test_client().get(
        "/rest/getOpenSubsonicExtensions?f=json")).get_json()
    names = {e["name"] for e in answer["subsonic-response"]["openSubsonicExtensions"]}
    assert "formPost" in names and "listeningParty" not in names


@pytest.mark.postgres
async def test_an_app_joins_and_lists_a_party_on_postgres(mediahub_app_factory, postgres_url):
    import re

    app = await mediahub_app_factory(overrides={"database": {"url": postgres_url}})
    client = app.test_client()
    host, guest = await login(client, "pghost"), await login(client, "pgguest")
    code = (await (await client.post("/api/parties", json={}, headers=host)).get_json())["code"]
    page = await client.post("/account/subsonic", form={"name": "Phone"}, headers=guest)
    key = re.search(r"data-app-password>([^<]+)<", await page.get_data(as_text=True)).group(1)

    async def rest(endpoint: str, **params) -> dict:
        query = "&".join(f"{k}={v}" for k, v in {"apiKey": key, "f": "json", **params}.items())
        return (await (await client.get(f"/rest/{endpoint}?{query}")).get_json())["subsonic-response"]

    assert (await rest("getListeningParty", code=code))["error"]["code"] == 50
    joined = (await rest("joinListeningParty", code=code))["listeningParty"]
    assert (joined["code"], joined["role"], joined["memberCount"]) == (code, "guest", 2)
    listed = (await rest("getListeningParties"))["listeningParties"]["listeningParty"]
    assert [p["code"] for p in listed] == [code]
