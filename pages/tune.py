"""Tune: pick a strategy and a budget; the cross-validated estimate updates as the slider moves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import core
from core.foundation import cache
from workbench import charts, exact_check, jobs, resources, state, strategy_form, tuning

ds = state.require_dataset()
st.title("Tune")
st.caption("Move the budget: a cross-validated estimate of the pruned subset updates at once, next to the full "
           "data and random subsets of the same size on the same folds.")

seed, folds = int(st.session_state["seed"]), int(st.session_state["folds"])
table, names = state.scores(), state.score_columns()
aligned = state.aligned_scores()
flaggers = [n for n in names if aligned is not None and f"{n}_flag" in aligned.columns]
with st.spinner("Preparing the cross-validation folds..."):
    evaluator = resources.evaluator(ds, folds, seed)

kinds = ["random"]
if names:
    kinds += ["top", "ccs", "balanced", "band"]
if flaggers:
    kinds.append("drop-flagged")
if len(names) >= 2:
    kinds.append("scorecard")
kinds += ["kcenter", "kmeans-diversity", "facility-location"]
if not names:
    st.info("Only score-free strategies are available: compute scores on the **Scores** page for the others.",
            icon=":material/info:")


@st.fragment
def live_panel() -> None:
    metrics_row = st.container()  # filled after the controls are read, drawn above them
    controls, results = st.columns([1, 2], gap="large")
    with controls, st.container(border=True):
        strategy, budget = strategy_form.controls(kinds, names, flaggers, aligned)
        if st.session_state.get("forced"):
            keep_ids, drop_ids = state.forced_sets()
            st.caption(f"Plus map edits: {len(keep_ids):,} rows forced kept, {len(drop_ids):,} forced dropped.")
    state.set_recipe(strategy, budget["keep"], budget["threshold"])
    with results:
        try:
            sel = tuning.current_selection(ds, compute=not tuning.is_costly(ds, strategy))
        except core.WorkbenchError as err:
            st.error(str(err), icon=":material/error:")
            return
        if sel is None:
            _costly_prompt(strategy, budget)
            return
        if sel.n_kept == 0:
            st.warning("This budget keeps no rows. Loosen the threshold or raise the keep fraction.")
            return
        pruned = evaluator.estimate(sel.mask)
        full = evaluator.full()
        rand = evaluator.random(sel.n_kept, repeats=5)
        saving = tuning.training_saving(sel.n_kept, ds.n_samples)
        m = metrics_row.columns(5)
        m[0].metric(f"Pruned · ±{100 * pruned.std:.1f}", f"{pruned.accuracy:.1%}",
                    f"{100 * (pruned.accuracy - full.accuracy):+.1f} pts vs full", border=True)
        m[1].metric(f"Full data · ±{100 * full.std:.1f}", f"{full.accuracy:.1%}", f"all {ds.n_samples:,} rows",
                    delta_color="off", delta_arrow="off", border=True)
        m[2].metric(f"Random · ±{100 * rand.std:.1f}", f"{rand.accuracy:.1%}",
                    f"pruned {100 * (pruned.accuracy - rand.accuracy):+.1f} pts", border=True,
                    help="Random subsets with as many rows as the selection, on the same folds (5 repeats).")
        m[3].metric("Rows kept", f"{sel.n_kept:,}", f"{sel.n_kept / ds.n_samples:.0%} of {ds.n_samples:,}",
                    delta_color="off", delta_arrow="off", border=True)
        m[4].metric("Training time", f"−{saving:.0%}", "estimated saving", delta_color="off", delta_arrow="off",
                    border=True, help="Assumes training cost grows linearly with the number of rows.")
        gap = 100 * (pruned.accuracy - rand.accuracy)
        spread = 100 * np.hypot(pruned.std, rand.std)
        verdict = ("beats random pruning" if gap > spread else "is worse than random pruning" if gap < -spread
                   else "is within the spread of random pruning")
        st.caption(f"This selection **{verdict}** at this size ({gap:+.1f} points; spread ±{spread:.1f}). "
                   f"Estimate: {evaluator.describe()}. Training-time saving assumes cost grows with rows.")
        a, b = st.columns(2)
        a.plotly_chart(charts.accuracy_comparison(pruned, full, rand), key="tune_accuracy")
        kept = np.bincount(ds.y[sel.mask], minlength=ds.n_classes)
        dropped = np.bincount(ds.y, minlength=ds.n_classes) - kept
        b.plotly_chart(charts.kept_per_class(ds.classes, kept, dropped), key="tune_per_class")


def _costly_prompt(strategy: str, budget: dict) -> None:
    st.info(f"**{tuning.KINDS[strategy]}** takes from seconds to a minute on {ds.n_samples:,} rows, so it runs "
            "on request instead of on every slider move.", icon=":material/hourglass_top:")
    if st.button(f"Compute the {strategy} selection at {budget['keep']:.0%}", key="tune_costly", type="primary",
                 disabled=st.session_state.get("select_job") is not None, icon=":material/play_arrow:"):
        recipe, scores = state.recipe(), state.scores()

        def _target(job):
            return tuning.compute_base(ds, recipe, seed, scores, progress=job.progress, cancel=job.cancel_event)

        job = jobs.Job(_target, label=f"Selecting ({strategy})")
        job.recipe = recipe
        st.session_state["select_job"] = job.start()
        st.rerun()


def _finish_selection(job) -> None:
    if job.status == "done":
        tuning.remember_base(ds, job.recipe, job.result)
    elif job.status == "failed":
        st.session_state["select_error"] = job.error


live_panel()
jobs.progress_panel("select_job", _finish_selection)
if st.session_state.get("select_error"):
    st.error(st.session_state.pop("select_error"), icon=":material/error:")

# --- auto ---------------------------------------------------------------------------------------
st.divider()
auto_col, curve_col = st.columns([1, 2], gap="large")


def _apply_auto() -> None:
    result = st.session_state.get("auto_result")
    if not result:
        return
    for key, value in tuning.widgets_from_strategy(result["chosen"], list(state.scores().columns)
                                                   if state.scores() is not None else []).items():
        state.set_widget(key, value)
    state.set_widget("tune_budget", "Keep fraction")
    state.set_widget("tune_keep", int(round(100 * result["keep"])))


def _finish_auto(job) -> None:
    if job.status == "done":
        sel = job.result
        st.session_state["auto_result"] = {"chosen": sel.resolved_strategy, "keep": sel.keep,
                                           "details": sel.details, "fingerprint": sel.data_fingerprint}
    elif job.status == "failed":
        st.session_state["auto_error"] = job.error


with auto_col:
    st.subheader("Auto")
    st.caption("Tries every strategy at the current keep fraction by cross-validation and reports a nested "
               "(honest) estimate of the winner. Random wins unless another beats it clearly.")
    keep_now = state.recipe().get("keep") or 0.7
    if st.button(f"Recommend a strategy at {keep_now:.0%}", key="tune_auto", icon=":material/auto_awesome:",
                 disabled=st.session_state.get("auto_job") is not None):
        def _auto_target(job):
            return core.auto_select(ds, table, keep_now, seed=seed, evaluator=evaluator, progress=job.progress,
                                    cancel=job.cancel_event)
        st.session_state["auto_job"] = jobs.Job(_auto_target, label="Auto").start()
    jobs.progress_panel("auto_job", _finish_auto)
    if st.session_state.get("auto_error"):
        st.error(st.session_state.pop("auto_error"), icon=":material/error:")
    result = st.session_state.get("auto_result")
    if result and result.get("fingerprint") == ds.fingerprint:
        honest = result["details"].get("honest_estimate", {})
        st.success(f"Recommended at {result['keep']:.0%}: **`{result['chosen']}`** — honest estimate "
                   f"{honest.get('accuracy', float('nan')):.1%} ± {honest.get('std', float('nan')):.1%}",
                   icon=":material/recommend:")
        st.button("Apply the recommendation", key="tune_auto_apply", on_click=_apply_auto, type="primary")
        candidates = pd.DataFrame(result["details"].get("candidates", []))
        if not candidates.empty:
            shown = candidates[["strategy", "accuracy", "std", "vs_random"]].head(8)
            st.dataframe(shown.style.format({"accuracy": "{:.1%}", "std": "{:.1%}", "vs_random": "{:+.1%}"}),
                         hide_index=True)

# --- pruning curve ------------------------------------------------------------------------------


def _finish_curve(job) -> None:
    if job.status == "done":
        st.session_state["curves"] = dict(st.session_state["curves"], **{job.curve_key: job.result})
        cache.save("app_curve", job.curve_key, job.result)
    elif job.status == "failed":
        st.session_state["curve_error"] = job.error


with curve_col:
    st.subheader("Pruning curve")
    current = state.recipe()["strategy"]
    options = [s for s in core.list_strategies(table.columns if table is not None else [])
               if s not in ("auto", "random", current)]
    state.sticky("tune_curve_strategies", [])
    label = ("Strategies to compare with random" if current == "random"
             else f"Compare `{current}` with (random is always drawn)")
    extra = st.multiselect(label, options, key="tune_curve_strategies", max_selections=3,
                           placeholder="Pick strategies, e.g. ccs:el2n")
    extra = state.remember("tune_curve_strategies", [c for c in extra if c in options])
    chosen = list(dict.fromkeys(([current] if current != "random" else []) + extra))
    key = tuning.curve_key(ds, chosen, seed, folds)
    curve = st.session_state["curves"].get(key)
    if curve is None:
        curve = cache.load("app_curve", key)
        if curve is not None:
            st.session_state["curves"] = dict(st.session_state["curves"], **{key: curve})
    if curve is None and st.button("Compute the pruning curve", key="tune_curve", icon=":material/show_chart:",
                                   disabled=st.session_state.get("curve_job") is not None or not chosen):
        def _curve_target(job):
            return core.pruning_curve(ds, table, chosen, keep_fractions=tuning.CURVE_FRACTIONS, seeds=3,
                                      folds=folds, seed=seed, progress=job.progress, cancel=job.cancel_event,
                                      evaluator=evaluator)
        job = jobs.Job(_curve_target, label="Pruning curve")
        job.curve_key = key
        st.session_state["curve_job"] = job.start()
    jobs.progress_panel("curve_job", _finish_curve)
    if st.session_state.get("curve_error"):
        st.error(st.session_state.pop("curve_error"), icon=":material/error:")
    if curve is not None:
        st.plotly_chart(charts.pruning_curve(curve, current_keep=state.recipe().get("keep"),
                                             full_accuracy=evaluator.full().accuracy), key="tune_curve_chart")
        st.caption("Each point: mean ± std over 3 seeds × folds. The grey band is random pruning ± 1 std.")
    elif st.session_state.get("curve_job") is None:
        st.caption("Sweeps keep fractions 10%–100% for the chosen strategies and random (a few seconds to a minute).")

# --- exact check --------------------------------------------------------------------------------
st.divider()
try:
    current = tuning.current_selection(ds, compute=False)
except core.WorkbenchError:
    current = None  # the live panel above already shows the message
if current is not None and current.n_kept > 0:
    exact_check.render(ds, current, evaluator, folds, seed)
