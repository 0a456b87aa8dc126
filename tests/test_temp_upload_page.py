"""/temp-upload makes sense to someone who has never seen an id: it lists the person's own live
parties (by name and code) or finds one by the code or link people do know, and says why not
when it cannot; the song then goes to that party (the page's own upload request, replayed)."""

from __future__ import annotations

import html as markup
import re
import subprocess

from mediahub import ffmpeg_path
from mediahub.testing import login

BOUNDARY = "temp-upload-page-test"


async def page(client, who: dict, query: str = "") -> str:
    response = await client.get("/temp-upload" + query, headers={**who, "Accept": "text/html"})
    assert response.status_code == 200
    return " ".join(markup.unescape(await response.get_data(as_text=True)).split())


def options(text: str) -> list[tuple[str, str, bool]]:
    """(value, label, selected) of the party select."""
    return [(value, label.strip(), bool(selected)) for value, selected, label in
            re.findall(r'<option value="([^"]*)"( selected)?>(.*?)</option>', text)]


async def start_party(client, who: dict, name: str) -> dict:
    response = await client.post("/api/parties", json={"name": name}, headers=who)
    assert response.status_code in (200, 201), await response.get_data()
    return await response.get_json()


def song(tmp_path) -> bytes:
    path = tmp_path / "song.mp3"
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-c:a", "libmp3lame", str(path)], check=True)
    return path.read_bytes()


def upload_form(session_id: str, title: str, data: bytes) -> tuple[bytes, dict]:
    """What temp_upload.js sends: sessionId (the picked party's), songTitle, then the audio."""
    body = b""
    for name, value in (("sessionId", session_id), ("songTitle", title)):
        body += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                 f"{value}\r\n").encode()
    body += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="audio"; filename="song.mp3"\r\n'
             "Content-Type: audio/mpeg\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


async def test_the_page_offers_parties_by_name_and_code_never_an_id(mediahub_app_factory, tmp_path):
    app = await mediahub_app_factory()
    client = app.test_client()
    host, guest = await login(client, "party-host"), await login(client, "party-guest")

    # Nobody's parties yet: the page says what to do, and asks for no id.
    text = await page(client, guest)
    assert "Session id" not in text and 'name="sessionId"' not in text
    assert "You are not in a live party. Open the link the host sent you" in text
    assert "Party code or link" in text

    party = await start_party(client, host, "Friday night")
    text = await page(client, host)
    assert "Session id" not in text
    assert options(text) == [(party["sessionId"], f"Friday night — code {party['code']} (you host it)", True)]

    # The guest knows the code (or the link): not joined yet, the page says so.
    text = await page(client, guest, f"?party={party['code'].lower()}")
    assert f"You have not joined the party {party['code']} yet" in text
    assert options(text) == []
    response = await client.post(f"/api/parties/{party['code']}/join",
                                  json={"display_name": "Guest"}, headers=guest)
    assert response.status_code == 200
    link = f"http://127.0.0.1:8000/party/{party['code']}?from=chat"
    text = await page(client, guest, f"?party={link}")
    assert options(text) == [(party["sessionId"], f"Friday night — code {party['code']}", True)]

    # Mistakes a person makes get a sentence, not an error page.
    assert "No live party has the code ZZZZ99" in await page(client, guest, "?party=ZZZZ99")
    assert "That is not a party code or link" in await page(client, guest, "?party=%3Cb%3E!")

    # The song goes to the picked party: the page's request, with the option's value.
    body, headers = upload_form(options(text)[0][0], "Our song", song(tmp_path))
    response = await client.post("/api/temp-upload/upload-temp", data=body, headers={**guest, **headers})
    assert response.status_code == 200, await response.get_data()
    assert (await response.get_json())["publicId"]


async def test_without_listen_party_the_page_says_there_are_no_parties(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"plugins": {"disabled": ["listen-party"]}})
    client = app.test_client()
    text = await page(client, await login(client, "alone"))
    assert "Listening parties are not enabled on this server" in text
    assert "Session id" not in text and "<select" not in text
