"""The /music addresses: one shell per view for a signed-in listener, CSP-clean, its scripts served."""

from __future__ import annotations

import re

from mediahub.testing import login

VIEWS = {
    "/music": "home", "/music/artists": "artists", "/music/artists/ar-0123abcd": "artist",
    "/music/albums": "albums", "/music/albums/al-0123abcd": "album", "/music/genres": "genres",
    "/music/genres/Post-Rock": "genre", "/music/search?q=sigur": "search",
    "/music/favorites": "favorites", "/music/playlists": "playlists",
    "/music/playlists/playlist_abc": "playlist", "/music/history": "history", "/music/queue": "queue",
}


async def page_of(client, path: str, headers: dict) -> str:
    response = await client.get(path, headers={**headers, "Accept": "text/html"})
    assert response.status_code == 200, path
    assert response.mimetype == "text/html"
    return await response.get_data(as_text=True)


def assert_csp_clean(html: str) -> None:
    """What the pages' Content-Security-Policy forbids (CONTRACTS.md "Pages and CSP")."""
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S):
        assert script.strip() == "", "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "inline style"
    assert "javascript:" not in html
    assert not re.search(r'(src|href|action)="(https?:)?//', html), "another host"


async def served_modules(client, entry: str) -> set[str]:
    """The entry script and every module it imports, each answered as JavaScript."""
    seen, todo = set(), [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "javascript" in response.mimetype, path
        source = await response.get_data(as_text=True)
        base = path.rsplit("/", 1)[0]
        todo += [f"{base}/{name}" for name in re.findall(r'from "\./([\w.]+\.js)"', source)]
    return seen


async def test_music_addresses_serve_the_shell_its_scripts_and_nothing_inline(mediahub_app):
    client = mediahub_app.test_client()
    signed_out = await client.get("/music/albums/al-0123abcd", headers={"Accept": "text/html"})
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"] == "/login?next=/music/albums/al-0123abcd"

    headers = await login(client, "listener")
    for path, view in VIEWS.items():
        html = await page_of(client, path, headers)
        assert f'data-view="{view}"' in html, path
        assert 'id="player-audio"' in html and 'id="music-view"' in html, path
        assert_csp_clean(html)
    unknown = await client.get("/music/nothing-here", headers={**headers, "Accept": "text/html"})
    assert unknown.status_code == 404

    html = await page_of(client, "/music", headers)
    css = re.search(r'href="(/music/static/[^"]+\.css)"', html).group(1)
    assert (await client.get(css)).status_code == 200
    entry = re.search(r'<script type="module" src="([^"]+)"', html).group(1)
    assert len(await served_modules(client, entry)) >= 5
