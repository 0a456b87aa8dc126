"""The host's import graph stays layered and acyclic, and every module imports alone in a fresh interpreter.

An import-linter-style contract, read with ast (import-linter is not a dependency here):
imports inside functions count too, so a cycle cannot hide behind a late import; only
``if TYPE_CHECKING:`` blocks are left out (they never run).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOST = ROOT / "mediahub"

# Higher layers may import lower ones, never the reverse; modules of one layer may import each
# other as long as no cycle forms. A new host module must be placed here (fnmatch patterns).
LAYERS = [
    ("entry points", ["mediahub.cli", "mediahub.worker", "mediahub.testing", "mediahub.testing.*"]),
    ("app wiring", ["mediahub.app"]),
    ("http", ["mediahub.pages", "mediahub.auth", "mediahub.csrf", "mediahub.viewer",
              "mediahub.accounts", "mediahub.streaming", "mediahub.uploads",
              "mediahub.errors_http", "mediahub.openapi", "mediahub.websocket_fanout",
              "mediahub.gc_policy"]),
    ("services", ["mediahub.host", "mediahub.plugins", "mediahub.dispatch", "mediahub.hookspecs",
                  "mediahub.storage", "mediahub.ledger", "mediahub.bus", "mediahub.jobs",
                  "mediahub.job_*", "mediahub.scheduler", "mediahub.tokens", "mediahub.db",
                  "mediahub.decoding", "mediahub.address_limits", "mediahub.signin_cache"]),
    ("foundation", ["mediahub.config", "mediahub.errors", "mediahub.datatypes", "mediahub.ranges",
                    "mediahub.sniff", "mediahub.markers", "mediahub.models", "mediahub.media",
                    "mediahub.passwords", "mediahub.migration_lock", "mediahub.migrations",
                    "mediahub.security_headers", "mediahub.body_pace",
                    "mediahub.migrations.*", "mediahub._compat", "mediahub._compat.*"]),
]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, known: set[str]) -> set[str]:
    """The modules of `known` that `source` imports when it runs (TYPE_CHECKING blocks left out)."""
    found: set[str] = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and isinstance(node.test, ast.Name) \
                    and node.test.id == "TYPE_CHECKING":
                visit(node.orelse)
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    # `from mediahub import passwords` needs the submodule, not the facade's names.
                    found.add(submodule if submodule in known else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    visit([child])
                elif isinstance(child, ast.excepthandler):
                    visit(child.body)

    visit(ast.parse(source).body)
    return {name for name in found if name in known}


def import_graph(root: Path) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    known = set(paths)
    return {name: imports_of(path.read_text(encoding="utf-8"), known) - {name}
            for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def strong(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                strong(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strong(node)
    return found


def layer_of(module: str) -> int | None:
    from fnmatch import fnmatchcase

    for depth, (_, patterns) in enumerate(LAYERS):
        if any(fnmatchcase(module, pattern) for pattern in patterns):
            return depth
    return None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, imported in sorted(graph.items()):
        if module == "mediahub":
            continue  # the public facade: re-exports from every layer, imported by plugins only
        here = layer_of(module)
        if here is None:
            problems.append(f"{module} is in no layer of tests/test_import_contract.py")
            continue
        for other in sorted(imported):
            if other == "mediahub":
                problems.append(f"{module} imports the public facade `mediahub` (import the module)")
            elif (there := layer_of(other)) is not None and there < here:
                problems.append(f"{module} ({LAYERS[here][0]}) imports {other} ({LAYERS[there][0]})")
    return problems


GRAPH = import_graph(HOST)


def test_the_host_has_no_import_cycle_not_even_through_late_imports():
    assert cycles(GRAPH) == []


def test_host_layers_only_import_downwards():
    assert layer_violations(GRAPH) == []


def test_the_host_never_imports_a_plugin():
    for path in HOST.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not any(n.startswith("mediahub_") for n in names), f"{path}: imports {names}"


# -- the checks can fail -------------------------------------------------------------------


def test_the_cycle_check_finds_a_cycle_made_by_a_late_import():
    late = "def f():\n    from mediahub.host import Host\n"
    graph = {"mediahub.config": imports_of(late, {"mediahub.host", "mediahub.config"}),
             "mediahub.host": {"mediahub.config"}}
    assert cycles(graph) == [["mediahub.config", "mediahub.host"]]


def test_the_layer_check_finds_an_upward_import_and_the_facade():
    graph = {"mediahub.errors": {"mediahub.app"}, "mediahub.storage": {"mediahub"},
             "mediahub.newthing": set()}
    assert layer_violations(graph) == [
        "mediahub.errors (foundation) imports mediahub.app (app wiring)",
        "mediahub.newthing is in no layer of tests/test_import_contract.py",
        "mediahub.storage imports the public facade `mediahub` (import the module)",
    ]


# -- every module alone, in a fresh interpreter --------------------------------------------

# A parent interpreter imports only third-party libraries (never mediahub), then forks one
# child per module: each child imports its module into an interpreter with no mediahub
# module loaded, exactly as `python -c "import mediahub.X"` would, for a fork's cost.
FORK_IMPORTER = r"""
import ast, importlib, json, os, sys, traceback
modules, preload = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for name in preload:
    try:
        importlib.import_module(name)
    except Exception:
        pass
assert not [m for m in sys.modules if m == "mediahub" or m.startswith(("mediahub.", "mediahub_"))]
failures, running = {}, {}


def reap():
    pid, status = os.wait()
    name, read = running.pop(pid)
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read().decode(errors="replace")
    if status != 0:
        failures[name] = text or f"exit status {status}"


for name in modules:
    if len(running) >= (os.cpu_count() or 2):
        reap()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            code, text = 0, ""
        except BaseException:
            code, text = 1, traceback.format_exc()
        os.write(write, text.encode()[-8000:])
        os._exit(code)
    os.close(write)
    running[pid] = (name, read)
while running:
    reap()
print(json.dumps(failures))
"""


def third_party_imports(roots: list[Path]) -> list[str]:
    names = set()
    for root in roots:
        for path in root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module)
    return sorted(n for n in names if not n.startswith(("mediahub", "tests")))


def all_modules() -> list[str]:
    plugins = [p for p in (ROOT / "plugins").glob("mediahub_*") if (p / "__init__.py").exists()]
    names = sorted(GRAPH)
    for package in plugins:
        names += sorted(module_name(p, package) for p in package.rglob("*.py"))
    return names


def test_every_module_imports_alone_in_a_fresh_interpreter():
    modules = all_modules()
    preload = third_party_imports([HOST, ROOT / "plugins"])
    answer = subprocess.run([sys.executable, "-c", FORK_IMPORTER, json.dumps(modules),
                             json.dumps(preload)], capture_output=True, text=True, timeout=300,
                            cwd=ROOT)
    assert answer.returncode == 0, answer.stderr
    failures = json.loads(answer.stdout.strip().splitlines()[-1])
    assert failures == {}, "\n\n".join(f"import {name}:\n{text}" for name, text in failures.items())
    assert len(modules) > 60


@pytest.mark.parametrize("module", ["mediahub.ledger", "mediahub.storage", "mediahub.uploads"])
def test_the_modules_that_used_to_fail_import_in_a_real_fresh_python(module):
    answer = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                            text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr


def test_the_fresh_import_check_reports_a_module_that_fails(tmp_path):
    # The shape of the old `import mediahub.ledger` failure: two modules importing names
    # from each other at import time.
    (tmp_path / "half_initialised.py").write_text("from half_partner import x\ny = 2\n")
    (tmp_path / "half_partner.py").write_text("from half_initialised import y\nx = 1\n")
    answer = subprocess.run([sys.executable, "-c", FORK_IMPORTER,
                             json.dumps(["half_partner", "json"]), "[]"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={"PYTHONPATH": str(tmp_path)})
    failures = json.loads(answer.stdout.strip().splitlines()[-1])
    assert list(failures) == ["half_partner"]
    assert "partially initialized module" in failures["half_partner"]
