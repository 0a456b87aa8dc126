"""`[plugins.cloudinary_temp]`: where temporary uploads go, how long they live, how big they may be."""

from __future__ import annotations

from pydantic import BaseModel, Field

# Folder names become key prefixes (and Cloudinary folders): plain path segments only.
FOLDER_PATTERN = r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$"


class TempUploadSettings(BaseModel):
    """`[plugins.cloudinary_temp]` in the config file."""

    model_config = {"extra": "forbid"}
    # A configured storage backend's name (`[storage.<name>]`); None = `[storage] default`.
    # Cloudinary is one such backend: `[storage.cloudinary] type = "cloudinary"`.
    backend: str | None = Field(None, min_length=1, max_length=64)
    # Seconds a temporary upload lives at most (the seed's 2 h safety net).
    ttl: float = Field(2 * 3600, gt=0, le=7 * 24 * 3600)
    # The cap on one temporary upload; None = `[server] max_upload_bytes`.
    max_bytes: int | None = Field(None, gt=0)
    # Where the objects go: a key prefix, and the Cloudinary folder on that backend.
    folder: str = Field("mediahub/temp-sessions", max_length=200, pattern=FOLDER_PATTERN)
