"""A Subsonic request's parameters (query string and form body together), read strictly.

Each getter raises SubsonicError 10 for a missing required value and 0 for one that is
not of its type, so bad input is an error code, never an exception escaping the route.
"""

from __future__ import annotations

from quart import request
from werkzeug.datastructures import MultiDict

from mediahub_subsonic_api.wire import SubsonicError, missing

MAX_VALUE_LENGTH = 2048
MAX_LIST_LENGTH = 1000


def bad(name: str, why: str) -> SubsonicError:
    return SubsonicError(SubsonicError.GENERIC, f"parameter {name}: {why}")


class Params:
    def __init__(self, values: MultiDict):
        self.values = values

    @classmethod
    async def from_request(cls) -> "Params":
        values = MultiDict(request.args)
        if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
            form = await request.form
            for key in form:
                for item in form.getlist(key):
                    values.add(key, item)
        return cls(values)

    def has(self, name: str) -> bool:
        return name in self.values

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None or (value == "" and required):
            if required:
                raise missing(name)
            return default
        if len(value) > MAX_VALUE_LENGTH or "\x00" in value:
            raise bad(name, "too long or not text")
        return value

    def list(self, name: str) -> list[str]:
        items = self.values.getlist(name)
        if len(items) > MAX_LIST_LENGTH:
            raise bad(name, f"at most {MAX_LIST_LENGTH} values")
        for item in items:
            if len(item) > MAX_VALUE_LENGTH or "\x00" in item:
                raise bad(name, "too long or not text")
        return [item for item in items if item != ""]

    def int(self, name: str, default: int | None = None, *, required: bool = False,
            minimum: int | None = None, maximum: int | None = None) -> int | None:
        raw = self.str(name, required=required)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise bad(name, "must be a whole number") from None
        if minimum is not None and value < minimum:
            raise bad(name, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            value = maximum  # Clients ask for "everything" with huge sizes: clamp, don't fail.
        return value

    def float(self, name: str, default: float | None = None) -> float | None:
        raw = self.str(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw.strip())
        except ValueError:
            raise bad(name, "must be a number") from None
        if value != value or value in (float("inf"), float("-inf")) or value < 0:
            raise bad(name, "must be a finite number of at least 0")
        return value

    def bool(self, name: str, default: bool) -> bool:
        raw = self.str(name)
        if raw is None or raw == "":
            return default
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise bad(name, "must be true or false")
