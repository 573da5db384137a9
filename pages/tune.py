"""Tune: pick a strategy and a budget; the cross-validated estimate updates as the slider moves."""

from __future__ import annotations

import streamlit as st

import core
from core.foundation import for_app
from core.scorers import flag_column
from workbench import (
    cards, charts, estimates, exact_check, jobs, resources, search_panels, state, strategy_form, target_form, tuning,
)

ds = state.require_dataset()
st.title("Tune")
st.caption("Move the budget: a cross-validated estimate of the pruned subset updates at once, next to the full "
           "data and random subsets of the same size on the same folds.")

names, aligned = state.score_columns(), state.aligned_scores()
flaggers = [n for n in names if flag_column(n) in aligned.columns] if aligned is not None else []
with st.spinner("Preparing the cross-validation folds..."):
    base = resources.evaluator(ds, state.folds(), state.seed())
evaluator = target_form.live_evaluator(ds, base)  # the user's own target itself when it is fast enough
if not names:
    st.info("Only score-free strategies are available: compute scores on the **Scores** page for the others.",
            icon=":material/info:")


def _costly_prompt(parsed) -> None:
    st.info(f"**{parsed.text}** takes seconds to a minute on {ds.n_samples:,} rows, so it runs on request "
            "instead of on every slider move.", icon=":material/hourglass_top:")
    key, table = tuning.selection_key(ds, parsed), state.scores()
    jobs.button("select", f"Compute the {parsed.text} selection", lambda job: tuning.compute(
        ds, parsed, table, progress=job.progress, cancel=job.cancel_event),
        key="tune_costly", label=f"Selecting ({parsed.text})", context={"key": key}, on_done=_finish_selection,
        work=key, type="primary", icon=":material/play_arrow:")


def _finish_selection(job) -> None:
    if job.status == "done":
        tuning.remember(job.context["key"], job.result)


metrics_row = st.container()  # filled once the controls are read, drawn above them
controls, results = st.columns([1, 2], gap="large")
with controls, st.container(border=True):
    strategy, budget = strategy_form.controls(names, flaggers, aligned)
    keep_ids, drop_ids = state.forced_sets()
    if keep_ids or drop_ids:
        st.caption(f"Plus map edits: {len(keep_ids):,} rows force-kept, {len(drop_ids):,} force-dropped.")
state.set_recipe(strategy, budget["keep"], budget["threshold"])

sel, problem, parsed = None, None, None
with results:
    try:
        parsed = tuning.recipe()  # parsed once per change of the form, the seed, the scores or the map edits
        sel = tuning.current_selection(ds, parsed, compute_now=not tuning.is_costly(ds, parsed))
    except core.WorkbenchError as err:
        problem = for_app(err)
        st.error(problem, icon=":material/error:")
    if problem:
        pass
    elif sel is None:
        _costly_prompt(parsed)
        jobs.panel("select")
    elif sel.n_kept == 0:
        st.warning("This budget keeps no rows. Loosen the threshold or raise the keep fraction.")
        sel = None
    else:
        found = estimates.reading(ds, sel, state.scores(), evaluator)
        cards.comparison_cards(metrics_row, ds, sel, found.pruned, found.full, found.random,
                               leak_free=found.leak_free, random_state=found.random_state)
        line = cards.status_line(found)
        if line:
            metrics_row.caption(f":material/hourglass_top: {line}")
        cards.show_verdict(target_form.reading_verdict(ds, sel, base, found,
                                                       is_random=sel.resolved_strategy == "random"))
        details = cards.detail_line(found)
        if details:
            st.caption(details)
        st.caption(f"Estimate: {evaluator.describe()}. Training-time saving assumes cost grows with rows.")
        a, b = st.columns(2)
        a.plotly_chart(charts.accuracy_comparison(found.pruned, found.full, found.random,
                                                  **cards.chart_labels(found)), key="tune_accuracy")
        b.plotly_chart(charts.kept_per_class(ds.classes, *charts.kept_and_dropped(ds, sel.mask)),
                       key="tune_per_class")

st.divider()
auto_col, curve_col = st.columns([2, 3], gap="large")
with auto_col:
    search_panels.auto_panel(ds, evaluator)
with curve_col:
    search_panels.curve_panel(ds, evaluator)
search_panels.auto_table(ds)

st.divider()
target_form.render(ds, sel, base, evaluator)
if sel is not None:
    exact_check.render(ds, sel, evaluator)
