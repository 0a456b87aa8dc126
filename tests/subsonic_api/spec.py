"""Validate Subsonic JSON answers against the vendored OpenSubsonic response schemas."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema_rs

SPEC = Path(__file__).parent / "opensubsonic"
ENDPOINT_SCHEMAS = json.loads((SPEC / "endpoints.json").read_text())


def _inline(path: Path, depth: int = 0):
    """The schema at `path` with every relative $ref replaced by the schema it names."""
    if depth > 40:
        raise RecursionError(f"$ref cycle through {path}")

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return _inline((path.parent / ref).resolve(), depth + 1)
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(json.loads(path.read_text()))


@lru_cache(maxsize=None)
def validators(endpoint: str):
    """(the whole document's validator, one per branch of subsonic-response's oneOf)."""
    schema = _inline((SPEC / ENDPOINT_SCHEMAS[endpoint]).resolve())
    branches = schema["properties"]["subsonic-response"]["oneOf"]
    return (jsonschema_rs.validator_for(schema),
            [jsonschema_rs.validator_for(branch) for branch in branches])


def schema_errors(endpoint: str, document: dict) -> list[str]:
    whole, branches = validators(endpoint)
    if whole.is_valid(document):
        return []
    # "valid under none of oneOf" says nothing: report the branch this answer means to be.
    inner = document.get("subsonic-response", {})
    branch = branches[0] if inner.get("status") == "ok" else branches[-1]
    errors = [f"{'/'.join(map(str, error.instance_path))}: {error.message}"
              for error in branch.iter_errors(inner)]
    return errors or ["valid under more than one branch of oneOf"]


def assert_valid(endpoint: str, document: dict) -> None:
    errors = schema_errors(endpoint, document)
    assert not errors, f"{endpoint} breaks the OpenSubsonic schema:\n  " + "\n  ".join(errors[:10])
