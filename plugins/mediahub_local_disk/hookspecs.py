"""The hook local-disk owns: whether a presigned upload may still write its key (single use).

Implemented by every plugin that hands out presigned uploads on a backend without its own
upload URL (local-disk's `presign_upload` points at `POST /media/upload/<backend>`, which
local-disk receives). hls-transcode implements it for its track uploads.
"""

from __future__ import annotations

from mediahub import hookspec


@hookspec
def presigned_upload_open(backend: str, key: str) -> bool | None:
    """Whether the presigned upload for ``key`` on storage ``backend`` may still be written.

    Asked by ``POST /media/upload/<backend>`` after the policy's signature, expiry and backend
    were checked, before a byte of the file is kept. True: your plugin handed out this upload
    and still waits for it; False: it is yours and done (completed or abandoned: a valid
    policy must not replace what you checked); None: not your key. The upload is stored only
    if some plugin answers True and none answers False, so a policy nobody vouches for is
    refused (403), whatever its expiry.
    """
