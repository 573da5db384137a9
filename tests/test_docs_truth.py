"""What the documentation names exists: every module path and dotted ``core`` name in the Markdown files
(CONTRIBUTING.md, README.md, sample_data's), the notebook, and the docstrings and comments of the code
(``core/``, ``workbench/``, ``pages/``, ``tests/``, ``benchmarks/``, ``sample_data/``).

A path (``core/selection/grammar.py``, ``workbench/state.py``, ``pages/``, ``benchmarks/search.py``)
must be a file or folder of the repository; a dotted name (``core.selection.needed_scorers``,
``core.workflows``, ``core.errors``) must import and resolve attribute by attribute. Placeholders
(``pages/<name>.py``) are skipped. The strategy and scorer tables of the README are compared with the
registries in ``test_readme_tables_match_the_registries``; ``python tests/test_docs_truth.py --write``
rewrites them from the registries.
"""

from __future__ import annotations

import ast
import importlib
import io
import re
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("core", "workbench", "pages", "tests", "benchmarks", "sample_data")
TOP = ("core", "workbench", "pages", "tests", "benchmarks", "examples", "sample_data")

PATH = re.compile(r"(?<![\w./-])((?:%s)/[\w./-]*)" % "|".join(TOP))
#: Folders that scripts write into: a path there names an output, not a file of the repository.
OUTPUTS = ("benchmarks/results/",)
DOTTED = re.compile(r"(?<![\w./-])(core(?:\.[A-Za-z_]\w*)+)")


def _docstrings(path: Path) -> list:
    """``(line, text)`` of the module's, classes' and functions' docstrings."""
    tree = ast.parse(path.read_text())
    found = []
    for node in [tree, *ast.walk(tree)]:
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) \
                    and isinstance(node.body[0].value.value, str):
                found.append((node.body[0].lineno, node.body[0].value.value))
    return found


def _comments(path: Path) -> list:
    return [(token.start[0], token.string) for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
            if token.type == tokenize.COMMENT]


def _documents() -> list:
    return sorted(p for p in [*ROOT.glob("*.md"), *ROOT.glob("sample_data/**/*.md"), *ROOT.glob("examples/*.ipynb")])


def _texts():
    """``(where, text)`` of every document, docstring and comment the test reads."""
    for path in _documents():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            yield f"{path.relative_to(ROOT)}:{number}", line
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, text in dict.fromkeys(_docstrings(path) + _comments(path)):
                yield f"{path.relative_to(ROOT)}:{line}", text


def path_references(text: str) -> list:
    """Repository paths a text names, placeholders (``pages/<name>.py``, globs) left out."""
    found = []
    for match in PATH.finditer(text):
        following = text[match.end(): match.end() + 1]
        if following in ("<", "{", "*", "["):
            continue
        found.append(match.group(1).rstrip(".,;:"))
    return found


def dotted_references(text: str) -> list:
    """Dotted ``core`` names a text names (``core.selection.parse_strategy``), file names left out."""
    return [m.group(1).rstrip(".") for m in DOTTED.finditer(text)
            if not text[m.end(): m.end() + 1] in ("/", "<") and not m.group(1).endswith((".py", ".json", ".md"))]


def resolves(dotted: str) -> bool:
    """Whether a dotted name imports: the longest importable module, then attribute by attribute."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:end]))
        except ModuleNotFoundError:
            continue
        for name in parts[end:]:
            if not hasattr(value, name):
                return False
            value = getattr(value, name)
        return True
    return False


def missing_references() -> list:
    wrong = []
    for where, text in _texts():
        wrong += [f"{where}: {p}" for p in path_references(text) if not (ROOT / p).exists() and not p.startswith(OUTPUTS)]
        wrong += [f"{where}: {d}" for d in dotted_references(text) if not resolves(d)]
    return wrong


def test_named_modules_exist():
    wrong = missing_references()
    assert not wrong, "the documentation names modules or names that do not exist:\n" + "\n".join(wrong)


def test_the_reference_readers_catch_what_they_check():
    text = ("See `core/selection/grammar.py`, `pages/<name>.py`, core.selection.parse_strategy(x) and "
            "core.workflows.partitioned_rules, in core/selection/gone.py.")
    assert path_references(text) == ["core/selection/grammar.py", "core/selection/gone.py"]
    assert dotted_references(text) == ["core.selection.parse_strategy", "core.workflows.partitioned_rules"]
    assert resolves("core.selection.parse_strategy") and resolves("core.select") and resolves("core.errors")
    assert not resolves("core.selection.no_such_name") and not resolves("core.no_such_module.x")


# ---------------------------------------------------------------- claims of CONTRIBUTING.md that a test can check


def test_no_module_is_named_after_a_name_its_package_exports():
    """'A module is named after its concept, never after a function it exports' (it would be shadowed)."""
    import pkgutil

    shadowed = []
    for package in ["core"] + [f"core.{p.name}" for p in sorted((ROOT / "core").iterdir()) if (p / "__init__.py").exists()]:
        module = importlib.import_module(package)
        submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
        shadowed += [f"{package}.{name}" for name in set(getattr(module, "__all__", [])) & submodules]
    assert not shadowed, f"a public name hides a module of the same name: {shadowed}"


def test_contributing_names_the_scorer_metadata_and_strategy_fields():
    """The fields CONTRIBUTING.md tells a contributor to set are the ones the code reads."""
    import dataclasses

    from core.scorers import METADATA_KEYS
    from core.selection import Option, StrategyKind

    text = (ROOT / "CONTRIBUTING.md").read_text()
    for key in (*METADATA_KEYS, "defaults"):
        assert f"`{key}`" in text, f"CONTRIBUTING.md does not name the scorer metadata `{key}`"
    fields = {f.name for f in dataclasses.fields(StrategyKind)}
    for key in ("name", "title", "help", "syntax", "target", "budget", "options", "run"):
        assert key in fields and (f"`{key}`" in text or f"`{key}(" in text), key
    assert {"type", "default", "help", "check", "choices"} <= {f.name for f in dataclasses.fields(Option)}


# ---------------------------------------------------------------- the README's tables, generated from the registries

README = ROOT / "README.md"
BEGIN = "<!-- {name} table: generated from the registry by `python tests/test_docs_truth.py --write` -->"
END = "<!-- end of the {name} table -->"


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def strategy_table() -> str:
    """One row per registered strategy kind (``core.selection.strategy_kinds()``), then the aliases."""
    from core.selection import aliases, strategy_kinds

    rows = ["| string | kind | keeps | budget |", "| --- | --- | --- | --- |"]
    rows += [f"| `{_cell(k.syntax)}` | {_cell(k.title)} | {_cell(k.help)} | {k.budget} |" for k in strategy_kinds()]
    rows += [f"| `{alias}` | alias | the same as `{_cell(target)}` | - |" for alias, target in aliases().items()]
    return "\n".join(rows)


def scorer_table() -> str:
    """One row per registered scorer (``core.list_scorers()``), with its metadata."""
    from core.scorers import list_scorers

    rows = ["| scorer | family | higher means | keep | hard | flags | labels | cost |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    rows += [f"| `{m['name']}` | {m['family']} | {_cell(m['higher_means'])} | {m['keep']} | {m['hard']} | "
             f"{'yes' if m['flags'] else 'no'} | {'yes' if m['needs_labels'] else 'no'} | {m['cost']} |"
             for m in list_scorers()]
    return "\n".join(rows)


TABLES = {"strategy": strategy_table, "scorer": scorer_table}


def readme_table(text: str, name: str) -> str:
    begin, end = BEGIN.format(name=name), END.format(name=name)
    assert begin in text and end in text, f"README.md lost the markers of the {name} table"
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


@pytest.mark.parametrize("name", sorted(TABLES))
def test_readme_tables_match_the_registries(name):
    assert readme_table(README.read_text(), name) == TABLES[name](), (
        f"README.md's {name} table differs from the registry: run `python tests/test_docs_truth.py --write`")


def write_tables() -> None:
    text = README.read_text()
    for name, render in TABLES.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        head, rest = text.split(begin, 1)
        text = f"{head}{begin}\n{render()}\n{end}{rest.split(end, 1)[1]}"
    README.write_text(text)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    sys.path.insert(0, str(ROOT))
    write_tables()
