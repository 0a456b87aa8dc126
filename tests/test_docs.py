"""Documentation cannot drift: every hook — the host's and those plugins own — is documented with its
exact signature, and tested."""

from __future__ import annotations

import inspect
import re
import tempfile
from pathlib import Path

import pytest

from mediahub.plugins import PluginHost, hook_names
from mediahub.testing import make_settings

ROOT = Path(__file__).resolve().parent.parent
PLUGINS_DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")

# Every built-in plugin loaded: the host's hookspecs plus each plugin's `register_hookspecs`.
LOADED = PluginHost(make_settings(Path(tempfile.mkdtemp(prefix="mediahub-docs-"))))
LOADED.load()
SPECS = {name: getattr(LOADED.pm.hook, name).spec.function for name in LOADED.hook_names()}


def signature(name: str) -> str:
    params = inspect.signature(SPECS[name]).parameters
    return f"{name}({', '.join(params)})"


def test_design_hook_table_is_all_there():
    design_hooks = {"register_hookspecs", "register_config_sections", "register_storage_backends",
                    "register_models", "register_routes", "register_jobs", "register_commands",
                    "register_nav_items", "startup", "shutdown", "upload_validate",
                    "upload_received", "stream_url", "stream_started", "cleanup"}
    assert set(hook_names()) == design_hooks


def test_listen_party_owns_the_party_hooks():
    owned = {name for name, spec in SPECS.items() if spec.__module__ == "mediahub_listen_party.hookspecs"}
    assert owned == {"party_track_sources", "party_track_resolve", "party_track_url",
                     "party_track_search", "session_host_changed", "track_changed",
                     "session_ended", "party_service"}


def test_every_declared_hook_lives_in_a_hookspecs_module():
    for name, spec in SPECS.items():
        assert spec.__module__.endswith("hookspecs"), f"{name} is declared in {spec.__module__}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hook_is_documented_with_its_exact_signature(name):
    assert f"#### `{signature(name)}`" in PLUGINS_DOC, f"docs/plugins.md lacks `{signature(name)}`"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hookspec_has_a_docstring(name):
    doc = inspect.getdoc(SPECS[name])
    assert doc and len(doc.split()) >= 8, f"{SPECS[name].__module__}.{name} needs a real docstring"


def test_docs_document_no_hook_that_does_not_exist():
    documented = set(re.findall(r"^#### `(\w+)\(", PLUGINS_DOC, flags=re.M))
    assert documented == set(SPECS)


# Test plugins in tests/, and the example package (tests/test_example_plugin.py drives it).
TEST_SOURCES = "\n".join(p.read_text(encoding="utf-8")
                         for folder in ("tests", "examples") for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hook_has_a_test(name):
    """A test somewhere implements the hook (a test plugin) and so exercises the host's call."""
    pattern = rf"@hookimpl(\([^)]*\))?\s*\n\s*(async\s+)?def {name}\("
    assert re.search(pattern, TEST_SOURCES), f"no test plugin implements the `{name}` hook"
