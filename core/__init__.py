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
    "Dataset": "core.dataset",
    "load_dataset": "core.loading",
    "WorkbenchError": "core.errors",
    "compute_scores": "core.scorers",
    "list_scorers": "core.scorers",
    "get_scorer": "core.scorers",
    "select": "core.selection",
    "Selection": "core.selection",
    "list_strategies": "core.selection",
    "LiveEvaluator": "core.evaluate",
    "Estimate": "core.evaluate",
    "evaluate_exact": "core.evaluate",
    "pruning_curve": "core.curve",
    "auto_select": "core.auto",
    "smallest_within": "core.auto",
    "export": "core.exporting",
    "build_manifest": "core.exporting",
    "apply_manifest": "core.exporting",
    "project": "core.projection",
    "list_samples": "core.samples",
    "load_sample": "core.samples",
    "make_known_answer": "core.samples",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
