"""The test suite's own layout stays fixed: no test module imports another test module (or a
conftest.py), helpers live in tests/support/, and there is one multipart builder and one free_port.

Read with ast, imports inside functions included, so a late import cannot hide one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# The only definitions of these helpers (tests/support is where a test finds them).
ONE_OF_EACH = {"multipart": "tests/support/multipart.py", "free_port": "tests/support/ports.py"}


def python_files() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, importer: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, relative ones resolved."""
    found = []
    package = importer.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from tests.x import test_y` imports the module tests.x.test_y.
            found += [(node.lineno, base)] + [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def is_test_module(name: str) -> bool:
    """tests.<...>.test_x or a conftest: modules pytest collects or loads by itself."""
    last = name.rpartition(".")[2]
    return name.split(".")[0] == "tests" and (last.startswith("test_") or last == "conftest")


def imports_of_test_modules(source: str, importer: str) -> list[str]:
    return [f"line {line}: {name}" for line, name in imported_modules(source, importer)
            if is_test_module(name) and name != importer]


def test_the_checker_sees_each_way_of_importing_a_test_module():
    # The check below must fail when someone does it again: each form is caught, helpers are not.
    importer = "tests.listen_party.test_api"
    for source in ("from tests.test_renders_api import Env", "import tests.music_library.test_pages",
                   "from tests.music_library import test_pages", "from tests.browser.conftest import page",
                   "from .test_queue_socket import upload", "from . import conftest",
                   "def late():\n    from tests.test_hls_api import Env"):
        assert imports_of_test_modules(source, importer), source
    for source in ("from tests.support.party import wav_bytes", "import tests.support.hls",
                   "from mediahub.testing import login", "from .helpers import x"):
        assert imports_of_test_modules(source, importer) == [], source


@pytest.mark.parametrize("path", python_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_under_tests_imports_a_test_module(path):
    found = imports_of_test_modules(path.read_text(encoding="utf-8"), module_name(path))
    assert found == [], (f"{path.relative_to(ROOT)} imports test modules: {found}; move what it "
                         "needs into tests/support/ (fixtures into a conftest.py)")


def test_helper_modules_live_in_tests_support():
    loose = [path.name for path in TESTS.glob("*.py")
             if not path.name.startswith("test_") and path.name not in ("conftest.py", "__init__.py")]
    assert loose == [], f"helper modules loose in tests/: {loose} (they belong in tests/support/)"


def test_one_multipart_builder_and_one_free_port():
    defined: dict[str, list[str]] = {name: [] for name in ONE_OF_EACH}
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in defined:
                defined[node.name].append(str(path.relative_to(ROOT)))
    assert defined == {name: [home] for name, home in ONE_OF_EACH.items()}, defined
