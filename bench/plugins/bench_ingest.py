"""Benchmark plugin: `PUT /bench/upload` streams the raw body through the ingest API to storage,
`POST /bench/upload-form` the `file` part of a multipart/form-data body (what a browser sends)."""

from __future__ import annotations

from quart import Blueprint, jsonify, request

from mediahub import hookimpl
from mediahub.csrf import token_in_body
from mediahub.uploads import ingest_multipart, ingest_request

blueprint = Blueprint("bench_ingest", __name__)


@blueprint.route("/bench/upload", methods=["PUT"])
async def upload():
    media = await ingest_request(request, purpose="bench", key_prefix="bench/")
    return stored(media)


@blueprint.route("/bench/upload-form", methods=["POST"])
@token_in_body  # a cookie-less benchmark client, like a seed client's form
async def upload_form():
    media, _ = await ingest_multipart(request, file_field="file", purpose="bench", key_prefix="bench/")
    return stored(media)


def stored(media):
    return jsonify({"id": str(media.id), "key": media.key, "size": media.size,
                    "sha256": media.sha256, "content_type": media.content_type}), 201


@hookimpl
def register_routes(app):
    return [blueprint]
