"""mediahub: a self-hosted media server whose every feature is a pluggy plugin.

This module is the public API for plugin authors: a plugin imports only names listed in
``__all__`` here (and ``mediahub.testing`` in its tests); every other module is internal
and may change. docs/plugins.md describes each name; tests/test_public_api.py holds the
built-in plugins and the example plugin to it.
"""

from mediahub.accounts import create_guest, login_throttle as sign_in_throttle, sign_in
from mediahub.address_limits import WindowCounter, network_of
from mediahub.auth import json_body
from mediahub.bus import BusUnavailable
from mediahub.csrf import token_in_body as csrf_token_in_body
from mediahub.decoding import DecodeTooLong, check_duration, decode_slot, format_duration
from mediahub.errors import (
    BadRequest,
    ConfigProblem,
    Conflict,
    Forbidden,
    MediahubError,
    NotFound,
    PayloadTooLarge,
    StorageUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    UploadRejected,
)
from mediahub.host import Host, current_host
from mediahub.job_runner import JobContext
from mediahub.markers import hookimpl, hookspec
from mediahub.media import AudioInfo, NotAudio, ffmpeg_path, probe
from mediahub.models import MediaObject, User
from mediahub.openapi import NO_NUL, html_page, media_route, optional_body
from mediahub.datatypes import ByteRange, IncomingUpload, InvalidKey, ObjectStat, PresignedUpload
from mediahub.sniff import SNIFF_BYTES, AudioType, detect_audio_type
from mediahub.storage import Storage, check_key, guess_content_type, new_key, put_small_objects
from mediahub.streaming import (check_media_signature, media_response, media_signature,
                                signed_media_url)
from mediahub.tokens import TokenPair, user_for_access_token
from mediahub.tokens import issue_pair as issue_token_pair
from mediahub.uploads import (FORM_OVERHEAD_BYTES, MAX_FIELDS, MultipartReader, discard, ingest,
                              ingest_multipart, ingest_request, limit_request_body,
                              multipart_reader)
from mediahub.viewer import current_sign_in, current_user, require_user, start_web_session
from mediahub.websocket_fanout import DirectSocket, text_frame

__all__ = [
    # hooks
    "hookimpl", "hookspec", "call_hook", "first_result",
    # the running app's services (settings, storage, ledger, bus, jobs, plugin config)
    "current_host", "Host", "JobContext", "BusUnavailable",
    # errors: raise them, the client gets {"error": {"code", "message"}} with the status
    "BadRequest", "ConfigProblem", "Conflict", "Forbidden", "MediahubError", "NotFound",
    "PayloadTooLarge", "StorageUnavailable", "TooManyRequests", "Unauthorized",
    "UnsupportedMediaType", "UploadRejected",
    # accounts and requests
    "User", "current_user", "current_sign_in", "require_user", "json_body", "start_web_session",
    "create_guest",
    "issue_token_pair", "user_for_access_token", "TokenPair", "csrf_token_in_body",
    "sign_in", "sign_in_throttle", "WindowCounter", "network_of",
    # routes: OpenAPI markers and the strict-string pattern
    "html_page", "media_route", "optional_body", "NO_NUL",
    # storage and the media ledger
    "Storage", "ObjectStat", "PresignedUpload", "InvalidKey", "check_key", "guess_content_type",
    "new_key", "put_small_objects", "MediaObject",
    # uploads
    "IncomingUpload", "ingest", "ingest_request", "ingest_multipart", "discard", "limit_request_body", "multipart_reader",
    "MultipartReader", "MAX_FIELDS", "FORM_OVERHEAD_BYTES", "SNIFF_BYTES", "AudioType",
    "detect_audio_type",
    # streaming
    "ByteRange", "media_response", "media_signature", "signed_media_url",
    "check_media_signature",
    # plugin commands
    "run_with_services",
    # media tools
    "ffmpeg_path", "probe", "AudioInfo", "NotAudio", "decode_slot", "check_duration",
    "DecodeTooLong", "format_duration",
    # WebSockets
    "DirectSocket", "text_frame",
]


async def call_hook(name: str, *, raise_errors: bool = False, **kwargs):
    """Call hook `name` of the running app: every result that is not None, in call order.

    Async implementations are awaited; a spec marked ``firstresult`` stops at its first
    result. A hook nobody declared (its owning plugin is disabled or absent) returns ``[]``.
    One implementation raising is logged and the others still run, unless raise_errors.
    """
    return await current_host().plugins.call_hook(name, raise_errors=raise_errors, **kwargs)


async def first_result(name: str, **kwargs):
    """Call hook `name` until an implementation returns something other than None; return it.

    ``None`` when none does, or when nobody declared the hook.
    """
    return await current_host().plugins.first_result(name, **kwargs)


def run_with_services(ctx, work):
    """In a plugin's click command: start the app for the command's config, `await work(host)`."""
    from mediahub.cli import run_with_services as run

    return run(ctx, work)
