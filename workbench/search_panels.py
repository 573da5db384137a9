"""Tune's searches: auto's recommendation and the pruning curve, each a background job."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import core
from workbench import charts, estimates, jobs, state, strategy_form, tuning


def _finish_auto(job) -> None:
    if job.status == "done":
        sel = job.result
        state.put("auto_result", {"chosen": tuning.canonical([sel.resolved_strategy])[0], "keep": sel.keep, "details": sel.details,
                                  "fingerprint": sel.data_fingerprint, "table_version": job.context["version"]})


def _apply_auto() -> None:
    """Button callback (runs before the page): the Tune widgets and the recipe take auto's choice."""
    result = state.get("auto_result")
    columns = list(state.scores().columns) if state.scores() is not None else []
    for key, value in strategy_form.widgets_from_strategy(result["chosen"], columns).items():
        state.set_widget(key, value)
    state.set_widget("tune_budget", "Keep fraction")
    state.set_widget("tune_keep", int(round(100 * result["keep"])))
    state.set_recipe(result["chosen"], result["keep"], None)


def auto_panel(ds, evaluator) -> None:
    """Recommend a strategy at the current keep fraction (nested CV), and apply it on request."""
    st.subheader("Auto")
    st.caption("Tries every strategy at the current keep fraction by cross-validation and reports a nested "
               "(honest) estimate of the winner. Random wins unless another beats it clearly.")
    keep_now = state.recipe_now().get("keep") or 0.7
    table, seed = state.scores(), state.seed()
    fold_work = _fold_work(ds, table, evaluator)

    def target(job):
        return core.select(ds, table, strategy="auto", keep=keep_now, seed=seed, evaluator=evaluator.twin(),
                           fold_scores=fold_work.result(job), progress=job.progress, cancel=job.cancel_event)

    jobs.button("auto", f"Recommend a strategy at {keep_now:.0%}", target, key="tune_auto", label="Auto",
                context={"version": state.get("table_version")}, on_done=_finish_auto, icon=":material/auto_awesome:",
                work=("auto", ds.fingerprint, keep_now, seed, state.get("table_version")), deps=fold_work.ask)
    jobs.panel("auto")
    result = state.get("auto_result")
    if not result or result["fingerprint"] != ds.fingerprint or result["table_version"] != state.get("table_version"):
        return
    honest = result["details"].get("honest_estimate", {})
    recipe = state.recipe_now()
    applied = (tuning.canonical([recipe["strategy"]]) == tuning.canonical([result["chosen"]])
               and recipe["keep"] == result["keep"] and recipe["threshold"] is None)
    st.success(f"Recommended at {result['keep']:.0%}: **`{result['chosen']}`** — honest estimate "
               f"{honest.get('accuracy', float('nan')):.1%} ± {honest.get('std', float('nan')):.1%}"
               + (" (applied)" if applied else ""), icon=":material/recommend:")
    if not applied:
        st.button("Apply the recommendation", key="tune_auto_apply", on_click=_apply_auto, type="primary")


def auto_table(ds) -> None:
    """Every candidate auto tried, full width so no column is cut (under the Auto and curve columns)."""
    result = state.get("auto_result")
    if not result or result["fingerprint"] != ds.fingerprint or result["table_version"] != state.get("table_version"):
        return
    candidates = pd.DataFrame(result["details"].get("candidates", []))
    if candidates.empty:
        return
    candidates["strategy"] = tuning.canonical_each(candidates["strategy"])
    shown = candidates[[c for c in ("chosen", "strategy", "accuracy", "std", "vs_random", "estimate", "estimated_with",
                                    "n_kept") if c in candidates]]
    with st.expander(f"Every strategy auto tried at {result['keep']:.0%} ({len(shown)})", icon=":material/list:"):
        st.dataframe(shown, hide_index=True, width="stretch", column_config={
            "chosen": st.column_config.CheckboxColumn("Chosen"),
            "strategy": st.column_config.TextColumn("Strategy"),
            "accuracy": st.column_config.NumberColumn("Accuracy", format="percent"),
            "std": st.column_config.NumberColumn("± std", format="percent"),
            "vs_random": st.column_config.NumberColumn("vs random", format="percent"),
            "estimate": st.column_config.TextColumn("Estimate"),
            "estimated_with": st.column_config.TextColumn("Estimated with"),
            "n_kept": st.column_config.NumberColumn("Rows kept", format="%d")})
        st.caption("Pass 1 screens every candidate cheaply; pass 2 estimates the best few in full. The reported "
                   "estimate of the winner is nested (chosen without the held-out fold).")


def _finish_curve(job) -> None:
    if job.status == "done":
        state.get("curves")[job.context["key"]] = job.result


def curve_panel(ds, evaluator) -> None:
    """Accuracy against keep fraction for the current strategy and up to three more, with random."""
    st.subheader("Pruning curve")
    table, seed, folds = state.scores(), state.seed(), state.folds()
    current = tuning.canonical([state.recipe_now()["strategy"]])[0]
    offered = [s for s in tuning.canonical(core.list_strategies(table.columns if table is not None else []))
               if s not in ("auto", "random", current)]
    state.sticky("tune_curve_strategies", [])
    label = ("Strategies to draw beside random" if current == "random"
             else f"Strategies to draw beside `{current}` and random")
    extra = st.multiselect(label, offered, key="tune_curve_strategies", max_selections=3,
                           placeholder="Pick strategies, e.g. ccs:el2n")
    extra = state.remember("tune_curve_strategies", [c for c in extra if c in offered])
    chosen = tuning.canonical(([current] if current != "random" else []) + extra)
    key = tuning.curve_key(ds, chosen, seed, folds)
    curve = state.get("curves").get(key)

    fold_work = _fold_work(ds, table, evaluator)

    def target(job):
        return core.pruning_curve(ds, table, chosen, keep_fractions=tuning.CURVE_FRACTIONS, seeds=3, folds=folds,
                                  seed=seed, progress=job.progress, cancel=job.cancel_event, evaluator=evaluator.twin(),
                                  fold_scores=fold_work.result(job))

    if curve is None:
        jobs.button("curve", "Compute the pruning curve", target, key="tune_curve", label="Pruning curve",
                    context={"key": key}, on_done=_finish_curve, disabled=not chosen, icon=":material/show_chart:",
                    work=key, deps=fold_work.ask)
    jobs.panel("curve")
    if curve is not None:
        st.plotly_chart(charts.pruning_curve(curve, current_keep=state.recipe_now().get("keep"),
                                             full_accuracy=evaluator.full().accuracy), key="tune_curve_chart")
        st.caption("Each point: mean ± std over 3 seeds × folds. The grey band is random pruning ± 1 std.")
    elif not jobs.running("curve"):
        st.caption("Sweeps keep fractions 10%–100% for the chosen strategies and random (seconds to a minute).")


class _FoldWork:
    """The plan's fold-wise scores for a search: asked for on the click, read when the search runs."""

    def __init__(self, ds, table, evaluator):
        self.ds, self.table, self.evaluator = ds, table, evaluator
        self.ready, self.job = None, None

    def ask(self) -> tuple:
        """Start or join the one fold-wise scores job (called when the button is clicked)."""
        self.ready, self.job = estimates.fold_scores_work(self.ds, self.table, self.evaluator, priority=jobs.ASKED)
        return (self.job,) if self.job is not None else ()

    def result(self, job):
        """The fold-wise scores in the search's thread (its dependency has ended by then)."""
        return job.dep(0) if self.job is not None else self.ready


def _fold_work(ds, table, evaluator) -> _FoldWork:
    return _FoldWork(ds, table, evaluator)
