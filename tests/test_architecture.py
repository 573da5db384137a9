"""The layers of core, and the faces' use of public names only (CONTRIBUTING.md explains the layout).

Imports are read from the source (ast), including imports deferred inside functions, so a cycle or an
upward edge hidden behind a function-level import fails here too. Imports under ``if TYPE_CHECKING``
are annotations only and are ignored.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Lower layers never import higher ones; a package may import itself and anything below it.
LAYERS = {
    "foundation": 0,
    "data": 1,
    "scorers": 2,
    "selection": 3,
    "evaluation": 4,
    "search": 5, "outputs": 5, "projection": 5,
    "workflows": 6,
    "cli": 7,
}
#: Faces: they may import ``core`` and ``core.<package>`` names listed in that package's ``__all__``.
FACES = ("core/cli", "workbench", "pages")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> list:
    """``(imported module, names, line)`` of every import in a file, resolved to absolute names."""
    tree = ast.parse(path.read_text())
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, [], child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                found.append((base, [a.name for a in child.names], child.lineno))
            visit(child)

    visit(tree)
    return found


def _core_files():
    return sorted((ROOT / "core").rglob("*.py"))


def _layer(module: str):
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 and parts[0] == "core" else None


def _targets(module: str, names: list) -> list:
    """Modules an import statement reaches: ``from core.x import y`` reaches core.x.y when y is a module."""
    out = [module]
    for name in names:
        candidate = f"{module}.{name}"
        path = ROOT / candidate.replace(".", "/")
        if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
            out.append(candidate)
    return out


def test_every_core_package_has_a_layer():
    packages = {p.name for p in (ROOT / "core").iterdir() if (p / "__init__.py").exists()}
    assert packages == set(LAYERS), f"give each core package a layer in LAYERS: {packages ^ set(LAYERS)}"


def test_imports_point_down():
    upward = []
    for path in _core_files():
        source = _module_name(path)
        own = _layer(source)
        if own is None:
            continue
        for module, names, line in _imports(path):
            for target in _targets(module, names):
                layer = _layer(target)
                if layer is not None and layer > own:
                    upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not upward, "imports must point down the layers:\n" + "\n".join(upward)


def _graph() -> dict:
    graph = {}
    for path in _core_files():
        source = _module_name(path)
        edges = set()
        for module, names, _ in _imports(path):
            for target in _targets(module, names):
                if target.startswith("core.") and target != source and not source.startswith(target + "."):
                    edges.add(target)
        graph[source] = edges
    return graph


def test_no_import_cycles_between_modules():
    graph = _graph()
    # a package's __init__ re-exports its modules; an edge to a package means an edge to its __init__
    state, stack, cycles = {}, [], []

    def walk(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _public(module: str) -> set:
    return set(getattr(importlib.import_module(module), "__all__", []))


def _face_files():
    for face in FACES:
        yield from sorted((ROOT / face).rglob("*.py"))


def test_faces_use_only_public_core_names():
    wrong = []
    for path in _face_files():
        inside_cli = path.relative_to(ROOT).parts[:2] == ("core", "cli")
        for module, names, line in _imports(path):
            if not (module == "core" or module.startswith("core.")) or (inside_cli and module.startswith("core.cli")):
                continue
            where = f"{path.relative_to(ROOT)}:{line}"
            if module == "core":
                public = set(importlib.import_module("core").__all__) | set(LAYERS)
            elif module.count(".") == 1 and module.split(".")[1] in LAYERS:
                public = _public(module)
            else:
                wrong.append(f"{where} imports the internal module {module}")
                continue
            wrong += [f"{where} imports {module}.{n}, which is not in its __all__" for n in names if n not in public]
    assert not wrong, "faces (cli, app) must use public core names:\n" + "\n".join(wrong)


def test_every_public_name_exists():
    for package in ["core"] + [f"core.{p}" for p in LAYERS]:
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", []):
            assert getattr(module, name, None) is not None, f"{package}.__all__ lists {name}, which is missing"


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_packages_list_their_public_names(package):
    module = importlib.import_module(f"core.{package}")
    assert getattr(module, "__all__", None), f"core/{package}/__init__.py must list its public names in __all__"


def test_checks_catch_what_they_guard(tmp_path):
    """The import reader sees deferred, relative and TYPE_CHECKING imports as intended."""
    sample = ROOT / "core" / "search" / "_probe_for_test.py"
    sample.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import core.cli\n"
                      "def f():\n    from ..workflows import pipeline\n")
    try:
        found = _imports(sample)
    finally:
        sample.unlink()
    assert ("core.workflows", ["pipeline"], 5) in found
    assert not any(m == "core.cli" for m, _, _ in found)
