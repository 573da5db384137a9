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
    "Dataset": "core.data.dataset",
    "load_dataset": "core.data.loading",
    "WorkbenchError": "core.foundation.errors",
    "compute_scores": "core.scorers",
    "list_scorers": "core.scorers",
    "get_scorer": "core.scorers",
    "select": "core.selection.subset",
    "Selection": "core.selection.subset",
    "list_strategies": "core.selection.subset",
    "LiveEvaluator": "core.evaluation.live",
    "Estimate": "core.evaluation.live",
    "evaluate_exact": "core.evaluation.live",
    "pruning_curve": "core.search.curves",
    "auto_select": "core.search.auto",
    "smallest_within": "core.search.auto",
    "export": "core.outputs.manifest",
    "build_manifest": "core.outputs.manifest",
    "apply_manifest": "core.outputs.manifest",
    "project": "core.projection.maps",
    "list_samples": "core.data.samples",
    "load_sample": "core.data.samples",
    "make_known_answer": "core.data.samples",
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
