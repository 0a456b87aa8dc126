"""mediahub: a self-hosted media server whose every feature is a pluggy plugin.

This module is the public API for plugin authors; everything else is internal.
"""

import pluggy

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

hookimpl = pluggy.HookimplMarker("mediahub")
hookspec = pluggy.HookspecMarker("mediahub")  # for plugins that declare their own hooks

__all__ = [
    "BadRequest", "ConfigProblem", "Conflict", "Forbidden", "MediahubError", "NotFound",
    "PayloadTooLarge", "StorageUnavailable", "TooManyRequests", "Unauthorized",
    "UnsupportedMediaType", "UploadRejected", "hookimpl", "hookspec", "current_host",
]


def current_host():
    """The running app's services (settings, storage, ledger, bus, jobs, plugins)."""
    from mediahub.host import current_host as _current_host

    return _current_host()
