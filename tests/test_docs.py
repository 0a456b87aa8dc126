"""Documentation cannot drift: every hook is documented with its exact signature, and tested."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from mediahub import hookspecs
from mediahub.plugins import hook_names

ROOT = Path(__file__).resolve().parent.parent
PLUGINS_DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def signature(name: str) -> str:
    params = inspect.signature(getattr(hookspecs, name)).parameters
    return f"{name}({', '.join(params)})"


def test_design_hook_table_is_all_there():
    design_hooks = {"register_config_sections", "register_storage_backends", "register_models",
                    "register_routes", "register_jobs", "register_commands", "register_nav_items",
                    "startup", "shutdown", "upload_validate", "upload_received", "stream_url",
                    "stream_started", "track_changed", "session_ended", "cleanup"}
    assert set(hook_names()) == design_hooks


@pytest.mark.parametrize("name", hook_names())
def test_hook_is_documented_with_its_exact_signature(name):
    assert f"#### `{signature(name)}`" in PLUGINS_DOC, f"docs/plugins.md lacks `{signature(name)}`"


@pytest.mark.parametrize("name", hook_names())
def test_hookspec_has_a_docstring(name):
    doc = inspect.getdoc(getattr(hookspecs, name))
    assert doc and len(doc.split()) >= 8, f"hookspecs.{name} needs a real docstring"


def test_docs_document_no_hook_that_does_not_exist():
    documented = set(re.findall(r"^#### `(\w+)\(", PLUGINS_DOC, flags=re.M))
    assert documented == set(hook_names())


# Test plugins in tests/, and the example package (tests/test_example_plugin.py drives it).
TEST_SOURCES = "\n".join(p.read_text(encoding="utf-8")
                         for folder in ("tests", "examples") for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("name", hook_names())
def test_hook_has_a_test(name):
    """A test somewhere implements the hook (a test plugin) and so exercises the host's call."""
    pattern = rf"@hookimpl(\([^)]*\))?\s*\n\s*(async\s+)?def {name}\("
    assert re.search(pattern, TEST_SOURCES), f"no test plugin implements the `{name}` hook"
