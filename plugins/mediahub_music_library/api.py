"""The collection's JSON API for the browser pages (documented in docs/music-library.md)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("music_api", __name__)
