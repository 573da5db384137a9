"""The Tune page's strategy form: one widget set per strategy kind, remembered across pages."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
import streamlit as st

from workbench import resources, state, tuning


def _meta(name: str) -> dict:
    return resources.scorer_meta(name) or {}


def controls(kinds: list, names: list, flaggers: list, aligned: Optional[pd.DataFrame]) -> tuple[str, dict]:
    """Draw the strategy widgets; return the strategy string and the budget.

    Parameters
    ----------
    kinds : list of str
        Strategy kinds on offer (keys of :data:`workbench.tuning.KINDS`).
    names : list of str
        Computed score columns.
    flaggers : list of str
        Scorers with a ``<name>_flag`` column.
    aligned : DataFrame or None
        Scores in the data set's row order (for the threshold slider's range).

    Returns
    -------
    (str, dict)
        The strategy string and ``{"keep": fraction or None, "threshold": value or None}``.
    """
    state.sticky("tune_kind", "random", kinds)
    kind = state.remember("tune_kind", st.selectbox("Strategy", kinds, key="tune_kind",
                                                    format_func=tuning.KINDS.get))
    params: dict = {}
    if kind in ("top", "ccs", "balanced", "band"):
        state.sticky("tune_scorer", names[0], names)
        params["scorer"] = state.remember("tune_scorer", st.selectbox(
            "Score", names, key="tune_scorer",
            help="Scores computed on the Scores page."))
        meta = _meta(params["scorer"])
        st.caption(f"Higher means {meta.get('higher_means', '?')}; a default pruning keeps the "
                   f"{meta.get('keep', 'high')} end.")
    if kind in ("top", "balanced"):
        default_end = _meta(params["scorer"]).get("keep", "high")
        state.sticky("tune_end", "default", ["default", "high", "low"])
        params["end"] = state.remember("tune_end", st.radio(
            "Keep which end", ["default", "high", "low"], key="tune_end", horizontal=True,
            format_func=lambda e: f"default ({default_end})" if e == "default" else e))
    if kind == "ccs":
        state.sticky("tune_beta", 0.1)
        params["beta"] = state.remember("tune_beta", st.slider(
            "β: share of the hardest rows dropped first", 0.0, 0.5, step=0.05, key="tune_beta",
            help="CCS drops this hardest share, then samples evenly across score bins (Zheng et al. 2023)."))
    if kind == "balanced":
        state.sticky("tune_mode", "proportional", ["proportional", "equal"])
        params["mode"] = state.remember("tune_mode", st.radio("Quotas", ["proportional", "equal"], key="tune_mode",
                                                              horizontal=True))
    if kind == "drop-flagged":
        state.sticky("tune_flaggers", flaggers)
        chosen = st.multiselect("Drop rows flagged by", flaggers, key="tune_flaggers")
        params["flaggers"] = state.remember("tune_flaggers", [f for f in chosen if f in flaggers]) or flaggers
    if kind == "scorecard":
        st.caption("Weights of each score's rank percentile (0 leaves a score out); each is oriented by its "
                   "default end.")
        weights = {}
        grid = st.columns(2)
        for i, name in enumerate(names):
            key = f"tune_weight_{name}"
            state.sticky(key, 1.0)
            weights[name] = state.remember(key, grid[i % 2].slider(name, 0.0, 3.0, step=0.25, key=key))
        if not any(w > 0 for w in weights.values()):
            weights[names[0]] = 1.0
        params["weights"] = weights
    if kind == "band":
        state.sticky("tune_band_low", 50)
        share = state.remember("tune_band_low", st.slider(
            "Share of the dropped rows taken from the low tail", 0, 100, step=5, format="%d%%", key="tune_band_low"))
        params["low"], params["high"] = 0.5 * share / 100, 0.5 * (100 - share) / 100
    strategy = tuning.strategy_string(kind, **params)

    budget_modes = ["Keep fraction"] + (["Threshold"] if kind == "top" else [])
    state.sticky("tune_budget", "Keep fraction", budget_modes)
    mode = state.remember("tune_budget", st.radio("Budget", budget_modes, key="tune_budget", horizontal=True)
                          if len(budget_modes) > 1 else "Keep fraction")
    if mode == "Threshold":
        values = pd.to_numeric(aligned[params["scorer"]], errors="coerce").to_numpy(float)
        finite = values[np.isfinite(values)]
        low, high = float(finite.min()), float(finite.max())
        if high <= low:
            high = low + 1e-6
        end = params["end"] if params.get("end") != "default" else _meta(params["scorer"]).get("keep", "high")
        key = f"tune_threshold_{params['scorer']}"
        keep_now = (state.recipe().get("keep") or 0.7)
        state.sticky(key, float(np.quantile(finite, 1 - keep_now if end == "high" else keep_now)))
        st.session_state[key] = float(min(max(st.session_state[key], low), high))
        threshold = state.remember(key, st.slider(
            f"Keep rows with {params['scorer']} {'≥' if end == 'high' else '≤'}", low, high,
            step=(high - low) / 200, key=key, format="%.4g"))
        return strategy, {"keep": None, "threshold": float(threshold)}
    state.sticky("tune_keep", int(round(100 * (state.recipe().get("keep") or 0.7))))
    keep_pct = state.remember("tune_keep", st.slider("Keep fraction", 1, 100, step=1, format="%d%%", key="tune_keep",
                                                     help="Share of rows kept (before forced rows from the Map)."))
    return strategy, {"keep": keep_pct / 100, "threshold": None}
