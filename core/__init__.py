"""Data pruning workbench: the library behind the app, the notebook API and the CLI.

Typical use::

    import core
    ds = core.load_dataset("sample_data/known_answer/known_answer.csv", label="label", id="id")
    scores = core.compute_scores(ds, ["el2n", "knn_density"], seed=0)
    sel = core.select(ds, scores, strategy="ccs:el2n", keep=0.3, seed=0)
    est = core.LiveEvaluator(ds, folds=5, seed=0).estimate(sel.mask)
    core.export(ds, sel, "kept.parquet", manifest="manifest.json")

Names are imported lazily so that ``import core`` stays fast and never pulls in torch or
Streamlit until they are needed.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Dataset": "core.data",
    "load_dataset": "core.data",
    "list_samples": "core.data",
    "load_sample": "core.data",
    "make_known_answer": "core.data",
    "WorkbenchError": "core.foundation",
    "compute_scores": "core.scorers",
    "list_scorers": "core.scorers",
    "get_scorer": "core.scorers",
    "Selection": "core.selection",
    "list_strategies": "core.selection",
    "LiveEvaluator": "core.evaluation",
    "Estimate": "core.evaluation",
    "evaluate_exact": "core.evaluation",
    "pruning_curve": "core.workflows",
    "auto_select": "core.search",
    "smallest_within": "core.search",
    "project": "core.projection",
    "select": "core.workflows",
    "estimate": "core.workflows",
    "estimate_warning": "core.workflows",
    "export": "core.workflows",
    "build_manifest": "core.workflows",
    "manifest_bytes": "core.workflows",
    "rows_bytes": "core.workflows",
    "apply_manifest": "core.workflows",
    "Pruner": "core.workflows.sampler",  # its own module: scikit-learn loads only when it is used
}

#: Subpackages reachable as attributes (``core.errors`` is the foundation's errors module).
_MODULES = {"errors": "core.foundation.errors", **{name: f"core.{name}" for name in (
    "foundation", "data", "scorers", "selection", "evaluation", "search", "columns", "value", "outputs", "projection",
    "workflows")}}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    if name in _MODULES:
        module = importlib.import_module(_MODULES[name])
        globals()[name] = module
        return module
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
