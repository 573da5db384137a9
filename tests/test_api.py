"""The public surface promised in DESIGN.md: top-level names of ``core`` stay what they say."""

from __future__ import annotations

import importlib
import pkgutil

import core

DESIGN_NAMES = ["load_dataset", "compute_scores", "select", "LiveEvaluator", "export"]


def test_design_names_are_callables_even_after_every_submodule_is_imported():
    # a submodule named like a top-level function would shadow it once imported
    for module in pkgutil.walk_packages(core.__path__, prefix="core."):
        if module.name != "core.__main__":
            importlib.import_module(module.name)
    for name in DESIGN_NAMES + [n for n in core.__all__ if n != "__version__"]:
        value = getattr(core, name)
        assert callable(value), f"core.{name} is {type(value).__name__}, not a callable"
