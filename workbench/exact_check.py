"""Tune's on-demand check of the live estimate with an exact model.

The live estimate uses a fast model so that it keeps up with a slider. Before a decision, a user
wants the same comparison with the model they will train: this runs ``core.evaluate_exact``
(logistic regression, gradient boosting or a torch MLP) on the current selection, the full data
and one same-size random subset, on the same folds, as a background job.
"""

from __future__ import annotations

import hashlib
from typing import Optional

import numpy as np
import pandas as pd
import streamlit as st

import core
from workbench import jobs, state

MODELS = {"logreg": "Logistic regression", "hgb": "Gradient boosting (HistGradientBoosting)", "mlp": "Torch MLP"}


def check_key(ds, mask: np.ndarray, model: str) -> tuple:
    """(selection, model, folds, seed): what an exact check result depends on."""
    digest = hashlib.sha256(np.packbits(mask).tobytes()).hexdigest()[:16]
    return (f"{ds.fingerprint[:16]}:{digest}", model, state.folds(), state.seed())


def _target(ds, mask, random_mask, model, folds, seed):
    def target(job):
        rows = {}
        parts = [("Pruned", mask), ("Full data", np.ones_like(mask)), ("Random, same size", random_mask)]
        for i, (name, part) in enumerate(parts):
            def progress(done, total, message, i=i, name=name):
                job.progress(i * 1000 + int(1000 * done / max(total, 1)), 3000, f"{name}: {message}")
            rows[name] = core.evaluate_exact(ds, part, model=model, folds=folds, seed=seed,
                                             progress=progress, cancel=job.cancel_event)
        return rows
    return target


def _finish(job) -> None:
    if job.status == "done":
        state.get("exact_checks")[job.context["key"]] = dict(job.result, model=MODELS[job.context["model"]])


def latest(ds, sel) -> Optional[dict]:
    """The exact check of this selection (any model, the last one run), or None."""
    selection = check_key(ds, sel.mask, "")[0]
    found = [v for k, v in state.get("exact_checks").items() if k[0] == selection]
    return found[-1] if found else None


def render(ds, sel, evaluator) -> None:
    """The exact-model section for the current selection ``sel``."""
    st.subheader("Check with an exact model")
    model = st.selectbox("Model", list(MODELS), format_func=MODELS.get, key="tune_exact_model")
    key = check_key(ds, sel.mask, model)
    result = state.get("exact_checks").get(key)
    random_mask = evaluator.random_masks(sel.n_kept, repeats=1)[0]
    jobs.button("exact", "Run the exact check again" if result else "Run the exact check",
                _target(ds, sel.mask, random_mask, model, state.folds(), state.seed()),
                key="tune_exact_run", label=f"Exact check ({MODELS[model]})", context={"key": key, "model": model}, on_done=_finish,
                icon=":material/fact_check:")
    jobs.panel("exact")
    if result is None:
        st.caption("Re-runs the comparison for the current selection with the model you will train, on the same "
                   f"{state.folds()} folds (seconds to minutes). The live figures above use a fast model.")
        return
    st.dataframe(table(result), width="stretch")
    gap = 100 * (result["Pruned"].accuracy - result["Full data"].accuracy)
    st.caption(f"{MODELS[model]}: pruned {gap:+.1f} points against the full data. "
               f"Budget: {result['Pruned'].budget}.")


def table(result: dict) -> pd.DataFrame:
    """The exact check as a small table (also in the stakeholder summary)."""
    return pd.DataFrame(
        [{"": name, "accuracy": f"{est.accuracy:.1%}", "spread (std over folds)": f"±{100 * est.std:.1f} pts",
          "rows kept": f"{est.n_kept:,} of {est.n_input:,}"}
         for name, est in result.items() if name != "model"]).set_index("")
