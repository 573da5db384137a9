"""Incoming: learn a row's value from the scored data, then drop in a new batch and see what would be kept."""

from __future__ import annotations

import numpy as np
import streamlit as st

import core
from core.data import read_bytes, read_path
from core.value import fit_value_model
from workbench import incoming, jobs, settings, state, tuning

DECISION = "kept / dropped by the Tune recipe"

ds = state.require_dataset()
st.title("Incoming data")
st.caption("Model-based pruning for rows that arrive later: a small model predicts a score (or the keep/drop "
           "decision) from the features alone, so a new batch is scored without out-of-fold models or neighbour "
           "graphs. Its cross-validated quality says whether it predicts; its backtest on the scored data says "
           "whether selecting by it beats random rows.")

targets = state.score_columns() + [DECISION]
with st.container(border=True):
    a, b, c = st.columns([2, 1, 1])
    state.sticky("incoming_target", targets[0], targets)
    target = state.remember("incoming_target", a.selectbox("Predict", targets, key="incoming_target",
                                                           help="Compute scores on the Scores page to predict one."))
    state.sticky("incoming_model", "linear", ["linear", "mlp"])
    kind = state.remember("incoming_model", b.radio("Model", ["linear", "mlp"], key="incoming_model",
                                                    horizontal=True, help="ridge / logistic, or a small MLP"))
    state.sticky("incoming_labels", False)
    use_labels = state.remember("incoming_labels", c.checkbox(
        "Label as input", key="incoming_labels", help="Makes label-dependent scores (label noise, kNN-Shapley) "
                                                      "predictable; new rows then need labels."))
    common = dict(model=kind, use_labels=use_labels, folds=state.folds(), seed=state.seed())
    selection = tuning.safe_selection(ds)[0] if target == DECISION else None
    table = state.scores()
    jobs.button("value_model", "Fit and backtest", lambda job: fit_value_model(
        ds, table, target, selection=selection, progress=job.progress, cancel=job.cancel_event, **common),
        key="incoming_fit", label="Value model (fit, then backtest against random rows)",
        on_done=lambda job: state.put("value_model", job.result) if job.status == "done" else None,
        work=("value_model", ds.fingerprint, state.get("table_version"), target, kind, use_labels,
              None if selection is None else tuning.identity(selection)),
        type="primary", icon=":material/model_training:")
jobs.panel("value_model")

model = state.get("value_model")
if model is None:
    state.end_page()
quality = model.quality
(st.warning if incoming.is_weak(quality) else st.success)(
    f"Value model of **{model.target}** ({model.model}{', with labels' if model.use_labels else ''}): "
    f"{quality['summary']}." + (" It barely predicts: do not select new rows by it." if incoming.is_weak(quality)
                                 else ""), icon=":material/insights:")
with st.expander("Backtest: what selecting by this model is worth on the scored data", expanded=True):
    st.caption("Each evaluator fold in turn is the test set and the other rows the new batch; each of the batch's "
               f"{(model.backtest or {}).get('inner_folds', 2)} parts is predicted by a value model fitted on the "
               "others (scores made without its labels), the strategy selects within the batch, the target model "
               "trains on the kept rows and is tested on the fold, beside random rows of the same count. The gain "
               "beats or loses to random only beyond ±, a 95 % interval of the per-fold gains; otherwise there is "
               "no clear difference. ✓ marks the default strategy at each keep: the best one that beats random, "
               "else random; the declared end (one end of the predicted value only) can collapse and is never it.")
    if model.backtest and not model.backtest.get("leak_free"):
        st.warning(f"Optimistic, not leak-free ({model.backtest.get('targets')}): these figures choose nothing.")
    st.dataframe(incoming.backtest_table(model), hide_index=True, key="incoming_backtest")
st.download_button("Value model (zip: JSON + NPZ, no pickle)", incoming.model_archive(model),
                   file_name="value_model.zip", mime="application/zip", key="incoming_model_download",
                   icon=":material/download:")

st.subheader("New batch")
uploaded = st.file_uploader("The new rows: the same feature columns, labels optional", key="incoming_upload",
                            type=["csv", "tsv", "txt", "parquet", "pq"])
if uploaded is not None:
    with state.user_errors("Could not read the batch: "):
        state.put("incoming_batch", {"name": uploaded.name, "frame": read_bytes(uploaded.getvalue(), uploaded.name).frame})
if settings.local_files_allowed():
    path = st.text_input("...or a file on this machine", key="incoming_path", placeholder="/path/to/new_rows.csv")
    if path and st.button("Read file", key="incoming_read"):
        with state.user_errors("Could not read the batch: "):
            state.put("incoming_batch", {"name": path, "frame": read_path(path).frame})
batch = state.get("incoming_batch")
if batch is None:
    state.end_page()

left, right = st.columns([2, 1])
state.sticky("incoming_keep", 0.3)
keep = state.remember("incoming_keep", right.slider("Keep fraction", 0.05, 1.0, step=0.05, key="incoming_keep"))
state.sticky("incoming_strategy", "")
typed = state.remember("incoming_strategy", left.text_input(
    "Strategy over the predicted value", key="incoming_strategy", placeholder=model.default_strategy(keep),
    help=f"Empty: the backtest's default at this keep ({model.default_strategy(keep)}). "
         f"Others: {', '.join(model.candidates())}."))
strategy = typed.strip() or model.default_strategy(keep)
with state.user_errors("Could not select among the new rows: "):
    drift = model.drift(batch["frame"])
    if drift is not None:
        (st.warning if drift["outside"] else st.caption)(f"Drift: {drift['summary']}")
    kind_of, text = incoming.proof(model, strategy, keep)
    (st.warning if kind_of == "warning" else st.info)(text, icon=":material/fact_check:")
    new_ds, predicted, sel = model.select(batch["frame"], strategy, keep=keep, seed=state.seed())
    values = predicted[model.column].to_numpy()
    st.caption(f"{batch['name']}: kept **{sel.n_kept}** of {new_ds.n_samples} new rows with `{sel.strategy}`.")
    st.plotly_chart(incoming.predicted_values(values, sel.mask, model.column), key="incoming_chart")
    if new_ds.n_classes > 1 and np.bincount(new_ds.y).min() >= state.folds():
        evaluator = core.LiveEvaluator(new_ds, folds=state.folds(), seed=state.seed())
        est, rand = evaluator.estimate(sel.mask), evaluator.random(sel.n_kept)
        st.caption(f"The batch is labelled, so its own CV estimate checks the choice: {100 * est.accuracy:.1f}% "
                   f"± {100 * est.std:.1f} with the kept rows; random rows of that size {100 * rand.accuracy:.1f}% "
                   f"± {100 * rand.std:.1f} ({evaluator.describe()}).")
    st.dataframe(new_ds.frame.assign(**{f"predicted_{model.column}": values})[sel.mask].head(200),
                 key="incoming_kept_table")
    st.download_button("Kept new rows (CSV)", core.rows_bytes(new_ds, sel, "csv", scores=predicted,
                                                              include_scores=True),
                       file_name="new_rows_kept.csv", mime="text/csv", key="incoming_download",
                       icon=":material/table:")
