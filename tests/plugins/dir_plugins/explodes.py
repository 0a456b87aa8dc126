"""A plugin that raises at import: it must be disabled, not take the server down."""

raise RuntimeError("boom at import")
