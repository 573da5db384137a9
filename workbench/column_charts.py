"""Chart builders of the Columns page: the column ranking and the column-pruning curve.

Colours follow :mod:`workbench.charts`: the ranked cut in the accent colour, random column subsets
grey, the all-columns reference dark slate.
"""

from __future__ import annotations

from typing import Optional

import pandas as pd
import plotly.graph_objects as go

from workbench.charts import ACCENT, DROPPED, FONT, FULL, KEPT, RANDOM

METHOD_TITLES = {"consensus": "consensus rank", "permutation": "permutation importance (accuracy points lost)",
                 "mutual_info": "mutual information with the label (nats)", "l1": "L1 path: how early it enters"}


def _look(fig: go.Figure, title: str, height: int = 380) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0.0, xanchor="left", font=dict(size=16)), template="plotly_white",
                      font=FONT, height=height, margin=dict(l=10, r=10, t=50, b=70),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0.0))
    return fig


def column_curve(curve: pd.DataFrame, *, cut: Optional[int] = None) -> go.Figure:
    """Accuracy (%) against the number of columns kept, with spreads, random subsets and all columns.

    Parameters
    ----------
    curve : DataFrame
        ``core.columns.column_curve`` output.
    cut : int, optional
        The number of columns chosen, marked by a vertical line.
    """
    x = curve["n_columns"]
    fig = go.Figure()
    for name, mean, spread, colour, dash in (("random columns", "random_mean", "random_std", RANDOM, "dash"),
                                             ("least important dropped first", "accuracy_mean", "accuracy_std",
                                              ACCENT, "solid")):
        y, s = 100 * curve[mean], 100 * curve[spread]
        fig.add_trace(go.Scatter(x=list(x) + list(x)[::-1], y=list(y + s) + list(y - s)[::-1], fill="toself",
                                 fillcolor=colour, opacity=0.15, line=dict(width=0), hoverinfo="skip",
                                 showlegend=False))
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name, line=dict(color=colour, dash=dash),
                                 hovertemplate="%{x} columns: %{y:.1f}%<extra>" + name + "</extra>"))
    fig.add_hline(y=100 * float(curve["full_mean"].iloc[0]), line=dict(color=FULL, width=1.5),
                  annotation_text="all columns", annotation_position="bottom right")
    if cut is not None:
        fig.add_vline(x=cut, line=dict(color=KEPT, width=2, dash="dot"), annotation_text=f"keep {cut}")
    fig.update_xaxes(title="feature columns kept", autorange="reversed", dtick=1 if len(curve) <= 25 else None)
    fig.update_yaxes(title="cross-validated accuracy (%)")
    return _look(fig, "Accuracy as columns are dropped")


def column_ranking(ranking: pd.DataFrame, method: str = "consensus", kept=()) -> go.Figure:
    """One bar per column, most important on top; kept columns teal, dropped red."""
    order = ranking.sort_values(f"rank_{method}", ascending=False, kind="stable")
    value = order["rank_consensus"].max() + 1 - order["rank_consensus"] if method == "consensus" else order[method]
    if method == "permutation":
        value = 100 * value
    kept = set(kept)
    colours = [KEPT if (not kept or column in kept) else DROPPED for column in order.index]
    fig = go.Figure(go.Bar(x=value, y=[str(c) for c in order.index], orientation="h", marker_color=colours,
                           hovertemplate="%{y}: %{x:.3g}<extra></extra>"))
    fig.update_xaxes(title=METHOD_TITLES[method])
    return _look(fig, "Column importance", height=max(300, 22 * len(order) + 120))
