"""The host's pages: home, health check, the layout plugins extend, the menu, escaping."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from quart import Blueprint, render_template_string
from tortoise import Tortoise

from mediahub import hookimpl
from mediahub.pages import flatten_nav_items, safe_next

PASSWORD = "correct horse battery"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


async def html_of(client, path: str = "/") -> str:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return await response.get_data(as_text=True)


async def form_login(client, username: str, password: str = PASSWORD):
    token = csrf_of(await html_of(client))
    return await client.post("/login", form={"username": username, "password": password,
                                             "csrf_token": token})


# -- pure helpers -------------------------------------------------------------------------


ROOT = Path(__file__).resolve().parent.parent
UPLOADING_SCRIPTS = ["plugins/mediahub_cloudinary_temp/static/temp_upload.js",
                     "plugins/mediahub_hls_transcode/static/upload.js",
                     "plugins/mediahub_listen_party/static/party.js",
                     "plugins/mediahub_s3_renders/static/renders.js"]


def test_one_uploader_module_does_every_pages_upload():
    scripts = [p for p in ROOT.glob("**/static/*.js")
               if ".venv" not in p.parts and not p.name.endswith(".min.js")]
    writers = sorted(str(p.relative_to(ROOT)) for p in scripts if "XMLHttpRequest" in p.read_text())
    assert writers == ["static/uploader.js"]
    for script in UPLOADING_SCRIPTS:
        assert "mediahub.upload(" in (ROOT / script).read_text(), script
    assert "uploader.js" in (ROOT / "templates" / "base.html").read_text()



@pytest.mark.parametrize("target,expected", [
    ("/party/abc?x=1", "/party/abc?x=1"),
    ("/", "/"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/ok\r\nSet-Cookie: x=1", "/"),
    ("", "/"),
    (None, "/"),
])
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def test_flatten_nav_items_keeps_order_and_drops_junk():
    results = [[{"label": "A", "href": "/a"}, {"label": "", "href": "/x"}, "junk"],
               {"label": "B", "href": "/b"}, [{"label": "C"}], [{"label": 1, "href": "/c"}]]
    assert flatten_nav_items(results) == [{"label": "A", "href": "/a"}, {"label": "B", "href": "/b"}]


# -- home + health ------------------------------------------------------------------------


async def test_home_signed_out_offers_signup_login_and_guest(mediahub_client):
    html = await html_of(mediahub_client)
    assert 'href="/signup"' in html
    assert 'href="/login"' in html
    assert 'action="/guest"' in html and "Continue as guest" in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "mediahub" in html


async def test_home_signed_in_welcomes_the_user(mediahub_client):
    await mediahub_client.post("/api/auth/register",
                               json={"username": "alice", "password": PASSWORD,
                                     "display_name": "Alice Liddell"})
    assert (await form_login(mediahub_client, "alice")).status_code == 303
    html = await html_of(mediahub_client)
    assert "Hello, Alice Liddell." in html
    assert 'action="/guest"' not in html
    assert 'action="/logout"' in html


async def test_home_hides_what_the_config_turns_off(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"auth": {"allow_signup": False,
                                                         "allow_guests": False}})
    html = await html_of(app.test_client())
    assert 'href="/signup"' not in html
    assert 'action="/guest"' not in html
    assert 'href="/login"' in html


async def test_pages_load_nothing_from_another_host(mediahub_client):
    for path in ("/", "/login", "/signup"):
        html = await html_of(mediahub_client, path)
        assert not re.search(r'(src|href)="(https?:)?//', html), path
    css = await mediahub_client.get("/static/mediahub.css")
    assert css.status_code == 200
    assert "@import" not in await css.get_data(as_text=True)
    assert (await mediahub_client.get("/static/mediahub.js")).status_code == 200


async def test_healthz_runs_a_query(mediahub_client):
    response = await mediahub_client.get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok", "database": "ok"}


async def test_healthz_is_503_when_the_database_is_gone(mediahub_app, tmp_path):
    # Make the database truly unreachable: close it and put a directory where its file was.
    db_file = Path(tmp_path / "data" / "mediahub.sqlite3")
    await Tortoise.close_connections()
    for path in db_file.parent.glob("mediahub.sqlite3*"):
        path.unlink()
    db_file.mkdir()
    try:
        response = await mediahub_app.test_client().get("/healthz")
        assert response.status_code == 503
        assert await response.get_json() == {"status": "unavailable", "database": "unavailable"}
    finally:
        shutil.rmtree(db_file)


# -- sign-in pages ------------------------------------------------------------------------


async def test_signup_form_creates_an_account_and_signs_in(mediahub_client):
    token = csrf_of(await html_of(mediahub_client, "/signup"))
    response = await mediahub_client.post("/signup", form={"username": "newbie", "password": PASSWORD,
                                                           "csrf_token": token, "next": "/x?y=1"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/x?y=1"
    me = await (await mediahub_client.get("/api/auth/me")).get_json()
    assert me["username"] == "newbie"


async def test_signup_form_shows_the_problem(mediahub_client):
    token = csrf_of(await html_of(mediahub_client, "/signup"))
    response = await mediahub_client.post("/signup", form={"username": "x", "password": PASSWORD,
                                                           "csrf_token": token})
    assert response.status_code == 400
    html = await response.get_data(as_text=True)
    assert 'role="alert"' in html and "3 to 32 characters" in html


async def test_login_form_wrong_password_and_offsite_next(mediahub_client):
    await mediahub_client.post("/api/auth/register", json={"username": "alice", "password": PASSWORD})
    response = await form_login(mediahub_client, "alice", "wrong password")
    assert response.status_code == 401
    assert "wrong username or password" in await response.get_data(as_text=True)

    token = csrf_of(await html_of(mediahub_client))
    response = await mediahub_client.post("/login", form={
        "username": "alice", "password": PASSWORD, "csrf_token": token,
        "next": "//evil.example/steal"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


async def test_guest_button_signs_in_a_guest(mediahub_client):
    token = csrf_of(await html_of(mediahub_client))
    response = await mediahub_client.post("/guest", form={"csrf_token": token})
    assert response.status_code == 303
    me = await (await mediahub_client.get("/api/auth/me")).get_json()
    assert me["is_guest"] is True
    html = await html_of(mediahub_client)
    assert "guest" in html.lower()


async def test_guest_page_refused_when_guests_are_off(mediahub_app_factory):
    app = await mediahub_app_factory(overrides={"auth": {"allow_guests": False}})
    client = app.test_client()
    token = csrf_of(await html_of(client))
    response = await client.post("/guest", form={"csrf_token": token})
    assert response.status_code == 403
    assert response.mimetype == "text/html"


# -- layout, menu, escaping ---------------------------------------------------------------


class MenuPlugin:
    """Adds menu links, one of them only for signed-in viewers, and a page extending base.html."""

    @hookimpl
    def register_nav_items(self, request):
        items = [{"label": "Parties", "href": "/parties"}]
        if request.mediahub_user is not None:
            items.append({"label": "My library", "href": "/library"})
        return items

    @hookimpl
    def register_routes(self, app):
        bp = Blueprint("menu_plugin", __name__)

        @bp.get("/parties")
        async def parties():
            return await render_template_string(
                '{% extends "base.html" %}{% block title %}Parties{% endblock %}'
                '{% block content %}<h1>All parties</h1>{% endblock %}'
                '{% block scripts %}<script src="/static/party.js"></script>{% endblock %}')

        return [bp]


class AsyncMenuPlugin:
    @hookimpl
    async def register_nav_items(self, request):
        return [{"label": "<b>Bold</b> & co", "href": "/bold?a=1&b=2"}]


class BrokenMenuPlugin:
    @hookimpl
    def register_nav_items(self, request):
        raise RuntimeError("menu plugin bug")


async def test_nav_items_from_plugins_appear_in_order(mediahub_app_factory):
    app = await mediahub_app_factory(plugins=[("menu", MenuPlugin()), ("async-menu", AsyncMenuPlugin()),
                                              ("broken-menu", BrokenMenuPlugin())])
    client = app.test_client()
    html = await html_of(client)
    nav = html[html.index('class="site-nav"'):html.index("</nav>")]
    assert 'href="/parties"' in nav
    assert "My library" not in nav
    # "Plugin order" is the host's call order for the hook.
    called = [name for name, _ in app.extensions["mediahub"].plugins.implementations(
        "register_nav_items") if name in ("menu", "async-menu")]
    first, second = ("Parties", "Bold") if called == ["menu", "async-menu"] else ("Bold", "Parties")
    assert nav.index(first) < nav.index(second)
    # Labels and links are escaped, never markup.
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in nav
    assert 'href="/bold?a=1&amp;b=2"' in nav

    await client.post("/api/auth/register", json={"username": "alice", "password": PASSWORD})
    await form_login(client, "alice")
    html = await html_of(client)
    assert 'href="/library"' in html


async def test_plugin_page_extends_the_layout(mediahub_app_factory):
    app = await mediahub_app_factory(plugins=[("menu", MenuPlugin())])
    html = await html_of(app.test_client(), "/parties")
    assert "<title>Parties</title>" in html
    assert "<h1>All parties</h1>" in html
    assert 'class="site-header"' in html
    assert '<script src="/static/party.js"></script>' in html
    assert 'aria-current="page">Parties' in html


async def test_html_in_a_name_is_escaped(mediahub_client):
    evil = '<script>alert("x")</script>'
    await mediahub_client.post("/api/auth/register", json={
        "username": "mallory", "password": PASSWORD, "display_name": evil})
    await form_login(mediahub_client, "mallory")
    html = await html_of(mediahub_client)
    assert evil not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


async def test_pages_cannot_be_framed_or_cached(mediahub_client):
    response = await mediahub_client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


class RunawayPlugin:
    @hookimpl
    def register_routes(app):
        blueprint = Blueprint("runaway", __name__)

        def deeper(depth: int) -> int:
            return deeper(depth + 1)

        @blueprint.post("/runaway")
        async def runaway():
            return {"depth": deeper(0)}

        return [blueprint]


async def test_only_a_too_deep_json_body_is_the_clients_fault(mediahub_app_factory):
    """A RecursionError from json.loads is a 400; one from our own code stays a 500 (a bug)."""
    app = await mediahub_app_factory(plugins=[("runaway", RunawayPlugin())])
    client = app.test_client()
    nested = await client.post("/api/auth/login", data=b"[" * 50_000 + b"]" * 50_000,
                               headers={"Content-Type": "application/json"})
    assert nested.status_code == 400
    assert (await nested.get_json())["error"]["code"] == "invalid_request"
    ours = await client.post("/runaway", json={})
    assert ours.status_code == 500
    assert (await ours.get_json())["error"]["code"] == "internal_error"
