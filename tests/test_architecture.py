"""The layers of core, and the faces' use of public names only (CONTRIBUTING.md explains the layout).

The checker reads each file's syntax tree (never imports it) and resolves every way a module can reach
another to an absolute ``core`` name: ``import``/``from`` statements (relative ones too), lazy top-level
names of ``core/__init__.py`` (``from core import select`` reaches ``core.workflows``), attribute chains
on a bound module (``import core`` then ``core.workflows.<module>``), ``importlib.import_module("...")`` and
``__import__("...")`` with a literal name, and imports deferred inside functions. Imports under
``if TYPE_CHECKING`` are annotations only and are ignored. ``test_checker_catches_every_shape`` feeds it
each upward or internal shape as module text and asserts that it is reported.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest

import core

ROOT = Path(__file__).resolve().parent.parent

#: Lower layers never import higher ones; a package may import itself and anything below it.
LAYERS = {
    "foundation": 0,
    "data": 1,
    "scorers": 2,
    "selection": 3,
    "evaluation": 4,
    "search": 5, "columns": 5, "value": 5, "outputs": 5, "projection": 5,
    "workflows": 6,
    "cli": 7,
}
#: Faces: they may use ``core.<name>`` of ``core.__all__`` and ``core.<package>.<name>`` of its ``__all__``.
FACES = ("core/cli", "workbench", "pages")
#: The lazy names and module attributes of ``core/__init__.py`` (``core.select`` lives in ``core.workflows``).
LAZY = dict(core._LAZY)
MODULE_ATTRS = dict(core._MODULES)


@dataclass(frozen=True)
class Use:
    """One reach from a file into ``core``: the dotted name as resolved, where, how, and whether deferred."""

    name: str
    line: int
    how: str
    deferred: bool


# ---------------------------------------------------------------- reading a file


def _is_module(name: str) -> bool:
    path = ROOT / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _is_type_checking(node) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _chain(node):
    """``a.b.c`` as ``["a", "b", "c"]``, or None when the chain does not start at a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id] + parts[::-1]


def _local_names(function) -> set:
    """Names a function binds itself (parameters, assignments), which hide a module bound outside."""
    args = function.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    for node in ast.walk(function) if not isinstance(function, ast.Lambda) else ():
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


class _Reader(ast.NodeVisitor):
    """Collects every :class:`Use` of a ``core`` name, with scopes so a local variable hides a module."""

    def __init__(self, package: str):
        self.package = package
        self.bound = [{}]  # scope stack: local name -> dotted core name it stands for
        self.depth = 0
        self.uses: list = []

    def _add(self, name: str, node, how: str) -> None:
        if name == "core" or name.startswith("core."):
            self.uses.append(Use(name, node.lineno, how, self.depth > 0))

    def _absolute(self, module: str, level: int) -> str:
        if not level:
            return module
        anchor = self.package.split(".")
        anchor = anchor[: len(anchor) - level + 1]
        return ".".join(anchor + ([module] if module else []))

    def _lookup(self, name: str):
        return self.bound[-1].get(name)

    def visit_If(self, node):
        if not _is_type_checking(node):
            self.generic_visit(node)
        else:
            for child in node.orelse:
                self.visit(child)

    def visit_Import(self, node):
        for alias in node.names:
            self._add(alias.name, node, "import")
            if alias.asname:
                self.bound[-1][alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.bound[-1][top] = top

    def visit_ImportFrom(self, node):
        base = self._absolute(node.module or "", node.level)
        for alias in node.names:
            if alias.name == "*":
                self._add(base, node, "from")
                continue
            full = f"{base}.{alias.name}"
            self._add(full, node, "from")
            self.bound[-1][alias.asname or alias.name] = full
            if base == "importlib" and alias.name == "import_module":
                self.bound[-1][alias.asname or alias.name] = "importlib.import_module"

    def _scoped(self, node):
        hidden = _local_names(node)
        self.bound.append({k: v for k, v in self.bound[-1].items() if k not in hidden})
        self.depth += 1
        for child in ast.iter_child_nodes(node):
            self.visit(child)
        self.depth -= 1
        self.bound.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scoped

    def visit_Call(self, node):
        chain = _chain(node.func)
        if chain:
            head = self._lookup(chain[0]) or chain[0]
            called = ".".join([head] + chain[1:])
            literal = node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            if called in ("importlib.import_module", "__import__") and literal:
                target = node.args[0].value
                if target.startswith("."):
                    dots = len(target) - len(target.lstrip("."))
                    target = self._absolute(target.lstrip("."), dots)
                self._add(target, node, called.rpartition(".")[2])
        self.generic_visit(node)

    def visit_Attribute(self, node):
        chain = _chain(node)
        head = self._lookup(chain[0]) if chain else None
        if head is None:
            self.generic_visit(node)
            return
        self._add(".".join([head] + chain[1:]), node, "attribute")


def read_uses(text: str, module: str, is_package: bool = False) -> list:
    """Every reach into ``core`` of a module's source text (``module`` is its dotted name)."""
    reader = _Reader(module if is_package else module.rpartition(".")[0])
    reader.visit(ast.parse(text))
    return reader.uses


def resolve(name: str) -> str:
    """The module a dotted ``core`` name lives in: lazy names and module attributes followed, longest module."""
    parts = name.split(".")
    if len(parts) > 1 and parts[1] in LAZY:
        return LAZY[parts[1]]
    if len(parts) > 1 and parts[1] in MODULE_ATTRS:
        parts = MODULE_ATTRS[parts[1]].split(".") + parts[2:]
    for end in range(len(parts), 0, -1):
        if _is_module(".".join(parts[:end])):
            return ".".join(parts[:end])
    return "core"


def layer(module: str):
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 and parts[0] == "core" else None


# ---------------------------------------------------------------- the rules, as functions over text


def upward_uses(text: str, module: str, is_package: bool = False) -> list:
    """Reaches from a ``core`` module into a higher layer, as ``line: name -> module (how)`` lines."""
    own = layer(module)
    wrong = []
    for use in read_uses(text, module, is_package):
        target = resolve(use.name)
        if own is not None and (layer(target) or -1) > own:
            where = "deferred " if use.deferred else ""
            wrong.append(f"{use.line}: {where}{use.how} {use.name} reaches {target} (layer {layer(target)} > {own})")
    return wrong


def deferred_internal_imports(text: str, module: str, is_package: bool = False) -> list:
    """Imports of ``core`` modules made inside functions (CONTRIBUTING: defer only heavy third-party ones)."""
    return [f"{u.line}: {u.how} {resolve(u.name)} inside a function" for u in read_uses(text, module, is_package)
            if u.deferred and u.how in ("import", "from", "import_module", "__import__")
            and resolve(u.name) not in ("core", module)]


def _public_of(package: str) -> set:
    return set(getattr(importlib.import_module(package), "__all__", []))


def internal_uses(text: str, module: str, is_package: bool = False) -> list:
    """A face's reaches past public names: ``core.<name>`` outside ``core.__all__`` and the packages, or
    ``core.<package>.<name>`` outside that package's ``__all__`` (``core.cli`` may use its own modules)."""
    top = set(core.__all__) | set(LAYERS)
    wrong = []
    for use in read_uses(text, module, is_package):
        parts = use.name.split(".")
        if len(parts) == 1 or (module.startswith("core.cli") and parts[:2] == ["core", "cli"]):
            continue
        if parts[1] not in top:
            wrong.append(f"{use.line}: {use.how} {use.name}: core.{parts[1]} is not a public name")
        elif parts[1] in LAYERS and len(parts) > 2 and parts[2] not in _public_of(f"core.{parts[1]}"):
            wrong.append(f"{use.line}: {use.how} {use.name}: {parts[2]} is not in core.{parts[1]}.__all__")
    return sorted(set(wrong), key=lambda line: int(line.split(":")[0]))


# ---------------------------------------------------------------- the project's files


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _core_files():
    return sorted((ROOT / "core").rglob("*.py"))


def _face_files():
    for face in FACES:
        yield from sorted((ROOT / face).rglob("*.py"))


def _over_files(rule, files) -> list:
    found = []
    for path in files:
        text = path.read_text()
        for line in rule(text, _module_name(path), path.name == "__init__.py"):
            found.append(f"{path.relative_to(ROOT)}:{line}")
    return found


def test_every_core_package_has_a_layer():
    packages = {p.name for p in (ROOT / "core").iterdir() if (p / "__init__.py").exists()}
    assert packages == set(LAYERS), f"give each core package a layer in LAYERS: {packages ^ set(LAYERS)}"


def test_imports_point_down():
    upward = _over_files(upward_uses, _core_files())
    assert not upward, "imports must point down the layers:\n" + "\n".join(upward)


def test_no_deferred_internal_imports():
    deferred = _over_files(deferred_internal_imports, _core_files())
    assert not deferred, "import core modules at the top of the file:\n" + "\n".join(deferred)


def test_faces_use_only_public_core_names():
    wrong = _over_files(internal_uses, _face_files())
    assert not wrong, "faces (cli, app) must use public core names:\n" + "\n".join(wrong)


def _graph() -> dict:
    graph = {}
    for path in _core_files():
        source = _module_name(path)
        uses = read_uses(path.read_text(), source, path.name == "__init__.py")
        graph[source] = {t for t in (resolve(u.name) for u in uses)
                         if t.startswith("core.") and t != source and not source.startswith(t + ".")}
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


def test_every_public_name_exists():
    for package in ["core"] + [f"core.{p}" for p in LAYERS]:
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", []):
            assert getattr(module, name, None) is not None, f"{package}.__all__ lists {name}, which is missing"


def test_lazy_names_point_at_real_modules():
    for name, module in {**LAZY, **MODULE_ATTRS}.items():
        assert _is_module(module), f"core._LAZY/_MODULES: {name} -> {module}, which is not a module"


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_packages_list_their_public_names(package):
    module = importlib.import_module(f"core.{package}")
    assert getattr(module, "__all__", None), f"core/{package}/__init__.py must list its public names in __all__"


# ---------------------------------------------------------------- the checker fails on every shape it guards

#: Each shape of an upward reach, as the text of a module in the scorers layer (2).
UPWARD_SHAPES = {
    "lazy top-level name": "from core import select\n",
    "attribute chain on core": "import core\n\ndef f(ds):\n    return core.workflows.pipeline.run(ds)\n",
    "importlib.import_module": "import importlib\nengine = importlib.import_module('core.workflows.engine')\n",
    "__import__": "engine = __import__('core.search.auto')\n",
    "deferred relative import": "def f():\n    from ..workflows import pipeline\n    return pipeline\n",
    "from a higher module": "from core.evaluation.live import LiveEvaluator\n",
}
#: Each shape of a face reaching past public names, as the text of a page.
INTERNAL_SHAPES = {
    "internal attribute chain": "import core\n\ncore.selection.grammar._parse_bare('top:x')\n",
    "non-public module of a package": "from core import workflows\n\nrule = workflows.partitioned_rules.X\n",
}


@pytest.mark.parametrize("shape", sorted(UPWARD_SHAPES))
def test_checker_catches_every_upward_shape(shape):
    found = upward_uses(UPWARD_SHAPES[shape], "core.scorers.probe")
    assert len(found) == 1, f"{shape}: {found}"


@pytest.mark.parametrize("shape", sorted(INTERNAL_SHAPES))
def test_checker_catches_every_internal_shape(shape):
    assert "partitioned_rules" not in _public_of("core.workflows") and "grammar" not in _public_of("core.selection")
    found = internal_uses(INTERNAL_SHAPES[shape], "pages.probe")
    assert len(found) == 1, f"{shape}: {found}"


def test_checker_catches_deferred_internal_imports():
    text = "def f():\n    from core.data.loading import load_dataset\n    return load_dataset\n"
    assert deferred_internal_imports(text, "core.outputs.probe") == ["2: from core.data.loading inside a function"]


def test_checker_passes_what_is_allowed():
    lower = ("from typing import TYPE_CHECKING\nimport core\nfrom core import __version__, errors\n"
             "from core.foundation import rng\nfrom . import base\nfrom ..data.dataset import Dataset\n"
             "if TYPE_CHECKING:\n    import core.cli\n    from core.workflows import select\n"
             "def f(core):\n    return core.workflows\n"
             "def g():\n    import numpy\n    return errors.ConfigError, core.foundation.rng, base\n")
    assert upward_uses(lower, "core.scorers.probe") == []
    assert deferred_internal_imports(lower, "core.scorers.probe") == []
    face = ("import core\nfrom core.selection import parse_strategy\nfrom core import workflows\n"
            "core.select(None, None, 'random', keep=0.5).mask\ncore.Dataset.from_arrays\n"
            "parse_strategy.__doc__\nworkflows.select_partitioned\ncore.scorers.DEFAULT_SCORERS\n")
    assert internal_uses(face, "pages.probe") == []
    assert internal_uses("from core.cli import support\n", "core.cli.select") == []


def test_checker_resolves_each_reach():
    uses = read_uses("import core.data as d\nx = d.loading.load_dataset\n", "core.search.probe")
    assert [(u.name, u.how) for u in uses] == [("core.data", "import"), ("core.data.loading.load_dataset", "attribute")]
    assert resolve("core.select") == "core.workflows" and resolve("core.errors.ConfigError") == "core.foundation.errors"
    assert resolve("core.selection.grammar._parse_bare") == "core.selection.grammar"


# ---------------------------------------------------------------- no broken project import becomes a skip

PROJECT = ("core", "workbench", "pages")


def skipped_project_imports(text: str) -> list:
    """Places in a test's text that would turn a broken import of the project's own code into a skip:
    ``pytest.importorskip("core...")``, a ``find_spec("core...")`` guard, or ``except ImportError`` around
    a project import whose handler skips."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = ast.unparse(node.func).rpartition(".")[2]
            if called in ("importorskip", "find_spec") and str(node.args[0].value).split(".")[0] in PROJECT:
                found.append(f"{node.lineno}: {called}({node.args[0].value!r})")
        if isinstance(node, ast.Try):
            imports = [n for stmt in node.body for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))]
            project = [n for n in imports if any(name.split(".")[0] in PROJECT for name in
                                                 ([a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""]))]
            skips = any("skip" in ast.unparse(h) for h in node.handlers
                        if h.type is None or "ImportError" in ast.unparse(h.type) or "ModuleNotFound" in ast.unparse(h.type))
            if project and skips:
                found.append(f"{node.lineno}: try/except ImportError around a project import skips")
    return found


def test_no_test_skips_a_broken_project_import():
    found = [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / "tests").glob("*.py"))
             for line in skipped_project_imports(path.read_text())]
    assert not found, "a broken import of the project must fail, not skip:\n" + "\n".join(found)


def test_skip_checker_catches_each_shape():
    shapes = ['pytest.importorskip("core.selection.coresets")\n',
              'mark = pytest.mark.skipif(importlib.util.find_spec("core.data.loading") is None, reason="")\n',
              'try:\n    from core.search import auto\nexcept ImportError:\n    pytest.skip("no auto")\n']
    assert [len(skipped_project_imports(text)) for text in shapes] == [1, 1, 1]
    assert skipped_project_imports('pytest.importorskip("distributed")\n') == []


# ---------------------------------------------------------------- one name, one meaning across layers

#: Public top-level names defined in two packages on purpose, with why. Everything else defined twice fails.
TWINS_ALLOWED: dict = {}  # none left: a new twin is renamed after what it does


def same_name_twins(files, root: Path = ROOT) -> dict:
    """Public top-level function and class names defined in more than one ``core`` package: name -> packages."""
    found: dict = {}
    for path in files:
        parts = path.relative_to(root).parts
        package = parts[1] if len(parts) > 2 else "core"
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                found.setdefault(node.name, set()).add(package)
    return {name: packages for name, packages in found.items() if len(packages) > 1}


def test_no_same_name_twins_across_packages():
    twins = {name: packages for name, packages in same_name_twins(_core_files()).items()
             if TWINS_ALLOWED.get(name) != packages}
    assert not twins, "one public name, one meaning: rename the lower one after what it does:\n" + "\n".join(
        f"{name}: {sorted(packages)}" for name, packages in sorted(twins.items()))


def test_twin_checker_catches_a_twin(tmp_path):
    for package in ("selection", "workflows"):
        (tmp_path / "core" / package).mkdir(parents=True)
        (tmp_path / "core" / package / "probe.py").write_text("def select(ds):\n    return ds\n")
    files = sorted((tmp_path / "core").rglob("*.py"))
    assert same_name_twins(files, tmp_path) == {"select": {"selection", "workflows"}}
