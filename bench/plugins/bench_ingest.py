"""Benchmark plugin: `PUT /bench/upload` streams the raw body through the ingest API to storage."""

from __future__ import annotations

from quart import Blueprint, jsonify, request

from mediahub import hookimpl
from mediahub.uploads import ingest_request

blueprint = Blueprint("bench_ingest", __name__)


@blueprint.route("/bench/upload", methods=["PUT"])
async def upload():
    media = await ingest_request(request, purpose="bench", key_prefix="bench/")
    return jsonify({"id": str(media.id), "key": media.key, "size": media.size,
                    "sha256": media.sha256, "content_type": media.content_type}), 201


@hookimpl
def register_routes(app):
    return [blueprint]
