"""quart-schema: the pydantic TypeAdapter it builds for every dict or list a route returns, made once per type.

quart-schema turns a route's return value into JSON through `model_dump`, which builds a
new `TypeAdapter(type(value))` each time: for `dict` that is ~50-100 us of schema building
per response, 7% of the server's CPU on `GET /api/auth/me` (py-spy). An adapter depends
only on its type and is never changed after it is built, so one per type is kept.
"""

from __future__ import annotations

import functools

from mediahub._compat import cannot_apply, in_tested_range

DISTRIBUTION = "quart-schema"
TESTED = ">=0.25,<0.26"


def cache_type_adapters() -> bool:
    """Make quart-schema's conversions reuse one TypeAdapter per type; False (logged) if not."""
    in_tested_range(DISTRIBUTION, TESTED)
    try:
        from quart_schema import conversion

        built = conversion.TypeAdapter
        conversion.model_dump  # noqa: B018 - the function whose adapters are cached
    except (ImportError, AttributeError) as exc:
        return cannot_apply(DISTRIBUTION, "cache its TypeAdapters", exc)
    if getattr(built, "mediahub_cached", False):
        return True

    @functools.lru_cache(maxsize=256)
    def one_per_type(kind):
        return built(kind)

    def type_adapter(kind, *args, **kwargs):
        if args or kwargs:
            return built(kind, *args, **kwargs)
        try:
            return one_per_type(kind)
        except TypeError:  # an unhashable type: build it as quart-schema would
            return built(kind)

    type_adapter.mediahub_cached = True
    conversion.TypeAdapter = type_adapter
    return True


def is_applied() -> bool:
    from quart_schema import conversion

    return getattr(conversion.TypeAdapter, "mediahub_cached", False)
