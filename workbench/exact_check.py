"""Tune's on-demand check of the live estimate with an exact model.

The live estimate uses a closed-form ridge model so that it keeps up with a slider. Before a
decision, a user wants the same comparison with the model they will train: this runs
``core.evaluate_exact`` (logistic regression, gradient boosting or a torch MLP) on the current
selection, the full data and one same-size random subset, on the same folds, in a background job.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

import core
from workbench import jobs

MODELS = {"logreg": "Logistic regression", "hgb": "Gradient boosting (HistGradientBoosting)", "mlp": "Torch MLP"}


def _key(ds, mask: np.ndarray, model: str, folds: int, seed: int) -> str:
    digest = hashlib.sha256(np.packbits(mask).tobytes()).hexdigest()[:16]
    return f"{ds.fingerprint[:16]}:{digest}:{model}:{folds}:{seed}"


def _run(ds, mask, random_mask, model, folds, seed):
    def target(job):
        rows = {}
        parts = [("Pruned", mask), ("Full data", np.ones_like(mask)), ("Random, same size", random_mask)]
        for i, (name, part) in enumerate(parts):
            def progress(done, total, message, i=i):
                job.progress(i * 1000 + int(1000 * done / max(total, 1)), 3000, f"{name}: {message}")
            rows[name] = core.evaluate_exact(ds, part, model=model, folds=folds, seed=seed,
                                             progress=progress, cancel=job.cancel_event)
        return rows
    return target


def _finish(job) -> None:
    if job.status == "done":
        st.session_state.setdefault("exact_checks", {})[job.check_key] = job.result
    elif job.status == "failed":
        st.session_state["exact_error"] = job.error


def render(ds, sel, evaluator, folds: int, seed: int) -> None:
    """The exact-model section for the current selection ``sel``."""
    st.subheader("Check with an exact model")
    model = st.selectbox("Model", list(MODELS), format_func=MODELS.get, key="tune_exact_model")
    key = _key(ds, sel.mask, model, folds, seed)
    result = st.session_state.get("exact_checks", {}).get(key)
    if result is None and st.button("Run the exact check", key="tune_exact_run", icon=":material/fact_check:",
                                    disabled=st.session_state.get("exact_job") is not None):
        random_mask = evaluator.random_masks(sel.n_kept, repeats=1)[0]
        job = jobs.Job(_run(ds, sel.mask, random_mask, model, folds, seed), label=f"Exact check ({MODELS[model]})")
        job.check_key = key
        st.session_state["exact_job"] = job.start()
    jobs.progress_panel("exact_job", _finish)
    if st.session_state.get("exact_error"):
        st.error(st.session_state.pop("exact_error"), icon=":material/error:")
    if result is None:
        st.caption("Re-runs the comparison for the current selection with the model you will train, on the same "
                   f"{folds} folds (seconds to minutes). The live figures above use the fast ridge model.")
        return
    table = pd.DataFrame(
        [{"": name, "accuracy": f"{est.accuracy:.1%}", "spread (std over folds)": f"±{100 * est.std:.1f} pts",
          "rows kept": f"{est.n_kept:,} of {est.n_input:,}"} for name, est in result.items()]
    ).set_index("")
    st.dataframe(table)
    gap = 100 * (result["Pruned"].accuracy - result["Full data"].accuracy)
    st.caption(f"{MODELS[model]}: pruned {gap:+.1f} points against the full data. "
               f"Budget: {result['Pruned'].budget}.")
