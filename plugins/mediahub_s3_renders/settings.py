"""The `[storage.<name>]` keys of an S3 backend, checked before anything connects."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from mediahub import ConfigProblem

MiB = 1024 * 1024
GiB = 1024 * MiB
# S3 refuses parts below 5 MiB (except the last) and above 5 GiB.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
# Options the host adds to every backend's table (StorageRegistry.from_settings).
HOST_OPTIONS = ("name", "data_dir", "secret_key")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class S3Settings(BaseModel):
    """One S3-compatible bucket. Credentials come from the environment: `{ env = "..." }`.

    The credential keys are AWS's own names, `access_key_id` and `secret_access_key`:
    `secret_key` is taken by the host's signing key, which every backend receives.
    """

    model_config = ConfigDict(extra="forbid")

    bucket: str
    access_key_id: SecretStr
    secret_access_key: SecretStr
    # None means AWS itself (the endpoint follows from the region).
    endpoint_url: str | None = None
    region: str = "us-east-1"
    # "path" for MinIO/SeaweedFS, "virtual" for AWS/Spaces, "auto" lets botocore choose.
    addressing_style: Literal["path", "virtual", "auto"] = "auto"
    # Prepended to every key, e.g. "prod/"; the rest of the app never sees it.
    key_prefix: str = ""
    # A CDN or public bucket URL mapped to the bucket root; used for url(..., public=True).
    public_base_url: str | None = None
    # Create the bucket at start if it is missing (tests, dev setups).
    create_bucket: bool = False
    # Objects larger than this go up as a multipart upload, part_size bytes at a time.
    multipart_threshold: int = Field(8 * MiB, ge=0)
    part_size: int = Field(8 * MiB, ge=MIN_PART_SIZE, le=MAX_PART_SIZE)
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(20.0, gt=0)  # a hung S3 holds a request max_attempts times this
    # Attempts per request (botocore "standard" retries) before the storage counts as down.
    max_attempts: int = Field(3, ge=1, le=10)

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not BUCKET_NAME.match(value) or ".." in value:
            raise ValueError("must be 3-63 lowercase letters, digits, dots or hyphens")
        return value

    @field_validator("access_key_id", "secret_access_key")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty (is its environment variable set?)")
        return value

    @field_validator("endpoint_url", "public_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9-]{1,32}", value):
            raise ValueError("must be a region name such as us-east-1 (or auto for R2)")
        return value

    @field_validator("key_prefix")
    @classmethod
    def _key_prefix(cls, value: str) -> str:
        if value == "":
            return value
        if not value.endswith("/"):
            raise ValueError("must end with '/' (e.g. \"prod/\")")
        segments = value[:-1].split("/")
        if value.startswith("/") or any(s in ("", ".", "..") for s in segments) or any(
                ord(c) < 32 or c == "\\" for c in value):
            raise ValueError("must be relative path segments such as \"prod/\"")
        return value

    @model_validator(mode="after")
    def _virtual_needs_dns_name(self) -> S3Settings:
        if self.addressing_style == "virtual" and "." in self.bucket and (
                self.endpoint_url or "").startswith("https://"):
            # The bucket becomes a host name: a dot breaks the TLS wildcard certificate.
            raise ValueError("a name with dots cannot use virtual addressing over https")
        return self


def parse_settings(options: dict[str, Any]) -> S3Settings:
    """The backend's own keys validated; the first problem as ConfigProblem(key, message)."""
    own = {k: v for k, v in options.items() if k not in HOST_OPTIONS}
    try:
        return S3Settings.model_validate(own)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"]) or "bucket"
        if error["type"] == "extra_forbidden":
            hint = {"access_key": "access_key_id", "secret": "secret_access_key",
                    "endpoint": "endpoint_url", "prefix": "key_prefix"}.get(key)
            message = f"unknown key (did you mean {hint}?)" if hint else "unknown key"
        elif error["type"] == "missing":
            message = "required value is missing"
        else:
            message = error["msg"].removeprefix("Value error, ")
        raise ConfigProblem(key, message) from None
