"""Columns: which feature columns can go without losing accuracy; pick a cut and continue with it."""

from __future__ import annotations

import json

import streamlit as st

from core.columns import column_curve, columns_block, kept_columns, prune_columns, suggest_cut
from workbench import column_charts, state

METHODS = {"consensus": "Consensus of the three", "permutation": "Permutation importance (same CV folds)",
           "mutual_info": "Mutual information with the label", "l1": "L1 (lasso) path"}

ds = state.require_dataset()
st.title("Columns")
st.caption("The same question as row pruning, along the other axis. Each held-out fold is ranked without its "
           "labels, then its least important columns are dropped and it is scored; random column subsets of "
           "the same size and all columns use the same folds.")

cut_now = state.get("column_cut")
if cut_now and cut_now.get("fingerprint") == ds.fingerprint:
    block = cut_now["block"]
    st.success(f"This data keeps {len(block['kept'])} feature columns; dropped: {', '.join(block['dropped'])}. "
               "Exports record the cut so `workbench apply` writes the same rows and columns.",
               icon=":material/view_column:")

state.sticky("columns_method", "consensus", list(METHODS))
method = state.remember("columns_method", st.selectbox("Ranking", list(METHODS), format_func=METHODS.get,
                                                        key="columns_method"))
key = (method, state.folds(), state.seed())
curves = state.get("column_curves")
if key not in curves:
    st.info("Ranking trains the live model once per fold and column shuffle, then once per column count "
            "(seconds for a few dozen columns).", icon=":material/info:")
    if not st.button("Rank columns", key="columns_run", type="primary", icon=":material/sort:"):
        state.end_page()
    bar = st.progress(0.0, text="Ranking columns...")
    with state.user_errors("Could not rank the columns: "):
        curves[key] = column_curve(ds, method=method, folds=state.folds(), seed=state.seed(),
                                   progress=lambda done, total, text: bar.progress(min(1.0, done / max(total, 1)),
                                                                                    text=text))
    bar.empty()
    if key not in curves:
        state.end_page()

curve = curves[key]
ranking = curve.attrs["ranking"]
counts = sorted(int(n) for n in curve["n_columns"])
state.sticky("columns_keep", suggest_cut(curve), counts)
n_keep = state.remember("columns_keep", st.select_slider(
    "Feature columns to keep", options=counts, key="columns_keep",
    help="Suggested: the fewest columns within half an accuracy point of all columns."))
row = curve[curve["n_columns"] == n_keep].iloc[0]
kept = kept_columns(ranking, n_keep, method)

a, b, c = st.columns(3)
a.metric(f"{n_keep} ranked columns", f"{100 * row['accuracy_mean']:.1f}%",
         f"{100 * (row['accuracy_mean'] - row['full_mean']):+.1f} points vs all columns",
         help=f"± {100 * row['accuracy_std']:.1f} over folds")
b.metric(f"{n_keep} random columns", f"{100 * row['random_mean']:.1f}%", f"± {100 * row['random_std']:.1f}",
         delta_color="off")
c.metric(f"All {len(ranking)} columns", f"{100 * row['full_mean']:.1f}%", f"± {100 * row['full_std']:.1f}",
         delta_color="off")
st.caption(f"Model: {curve.attrs.get('model')}.")

left, right = st.columns([3, 2])
left.plotly_chart(column_charts.column_curve(curve, cut=n_keep), key="columns_curve_chart")
right.plotly_chart(column_charts.column_ranking(ranking, method, kept), key="columns_ranking_chart")
st.markdown(f"**Kept ({len(kept)}):** {', '.join(kept)}  \n**Dropped ({len(ranking) - len(kept)}):** "
            f"{', '.join(c for c in ranking.index if c not in kept) or 'none'}")
with st.expander("Ranking table"):
    st.dataframe(ranking, key="columns_ranking_table")

block = columns_block(ds, kept, method=method, curve=curve)
go, download = st.columns(2)
download.download_button("Column cut (JSON)", json.dumps(block, indent=2), file_name="column_cut.json",
                         mime="application/json", key="columns_download", icon=":material/download:",
                         width="stretch", help="For `workbench select --columns column_cut.json`.")
if go.button(f"Continue with these {len(kept)} columns", key="columns_apply", icon=":material/content_cut:",
             disabled=len(kept) == len(ranking), width="stretch",
             help="Reloads the data with only these feature columns. Scores are computed again for it."):
    with state.user_errors("Could not prune the columns: "):
        pruned = prune_columns(ds, kept)
        state.set_dataset(pruned, f"{state.get('origin') or 'Data'} · {len(kept)} of {len(ranking)} columns")
        state.put("column_cut", {"fingerprint": pruned.fingerprint, "block": block})
        st.rerun()
