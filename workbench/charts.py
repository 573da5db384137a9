"""Plotly chart builders shared by the pages and the stakeholder summary.

Colours are fixed across the app: kept rows are teal, dropped rows red, the full-data reference
dark slate and random pruning grey, so a chart reads the same on every page.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

KEPT = "#1B998B"
DROPPED = "#E4572E"
FULL = "#3D405B"
RANDOM = "#A0A4A8"
ACCENT = "#2E86AB"
#: One colour per class, the same on every chart (class balance, score histograms, the map). The
#: first eight are Okabe and Ito's colour-blind-safe set (black left out, indigo in); the rest were
#: picked from Paul Tol's and ColorBrewer's qualitative sets, each the most distinct from those before
#: it. Checked in tests/test_map.py: any two of the 20 stay at least 12 CIELAB units apart for
#: normal, protanope and deuteranope vision (Machado et al. 2009 simulation), and away from the greys.
CLASS_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#332288",
                 "#661100", "#EEDD88", "#225555", "#222255", "#666633", "#99DDFF", "#CCEBC5", "#999933",
                 "#FFED6F", "#663333", "#FDB462", "#004488"]
CURVE_COLOURS = ["#2E86AB", "#F18F01", "#6A4C93", "#C73E1D"]  # never the kept/dropped/random colours
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)


# the trace types this module draws: their part of plotly_white is all a figure here can use
TRACE_TYPES = ("bar", "heatmap", "histogram", "scatter", "scattergl", "violin")


@lru_cache(maxsize=None)
def _white() -> go.layout.Template:
    """plotly_white's layout and its defaults for :data:`TRACE_TYPES`, built once.

    Naming the template makes plotly deep-copy all of it (every trace type's defaults) on every
    figure, about half the time of building a small chart; these figures look the same with
    only the part they can use.
    """
    import plotly.io as pio

    white = pio.templates["plotly_white"]
    return go.layout.Template(layout=white.layout, data={kind: white.data[kind] for kind in TRACE_TYPES})


def _layout(fig: go.Figure, title: str, *, height: int = 360, legend: bool = True, **axes) -> go.Figure:
    """Shared look. The legend stands right of the plot area, below its top edge, so it never covers
    the title (top left), the toolbar (top right, above the plot area) or the axis titles."""
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left", font=dict(size=16)),
        template=_white(), font=FONT, height=height, margin=dict(l=10, r=10, t=50, b=10),
        showlegend=legend,
        legend=dict(orientation="v", yanchor="top", y=1.0, xanchor="left", x=1.02, title=None),
        **axes,
    )
    return fig


def class_colour(i: int) -> str:
    """The colour of class code ``i`` (classes past the 20th reuse the palette from its start)."""
    return CLASS_COLOURS[i % len(CLASS_COLOURS)]


# --- Data ---------------------------------------------------------------------------------------


def class_balance(counts: pd.Series) -> go.Figure:
    """Rows per class as a bar chart (share printed on each bar)."""
    total = max(int(counts.sum()), 1)
    names = [str(c) for c in counts.index]
    fig = go.Figure(go.Bar(
        x=names, y=counts.to_numpy(), marker_color=[class_colour(i) for i in range(len(names))],
        text=[f"{v / total:.0%}" for v in counts.to_numpy()], textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: %{y} rows<extra></extra>",
    ))
    return _layout(fig, "Class balance", legend=False, xaxis_title="Class", yaxis_title="Rows",
                   xaxis=dict(type="category"))


# --- Scores -------------------------------------------------------------------------------------


def score_distribution(values: np.ndarray, labels: np.ndarray, classes: Sequence, name: str, *,
                       threshold: Optional[float] = None, threshold_label: str = "", kind: str = "histogram",
                       higher_means: str = "") -> go.Figure:
    """Per-class stacked histogram or violin of one score, with the current cut as a dashed line.

    The axis spans the quartiles widened by three interquartile ranges (capped at the data), so a
    few extreme rows (outliers are often 1-3 % of rows) do not squash the rest; the title says
    how many rows lie beyond it.
    """
    finite = values[np.isfinite(values)]
    if finite.size:
        q1, q3 = np.quantile(finite, [0.25, 0.75])
        spread = max(q3 - q1, 1e-12)
        low, high = max(finite.min(), q1 - 3 * spread), min(finite.max(), q3 + 3 * spread)
    else:
        low, high = 0.0, 1.0
    if high <= low:
        low, high = float(finite.min(initial=0.0)) - 0.5, float(finite.max(initial=0.0)) + 0.5
    pad = 0.02 * (high - low)
    low, high = low - pad, high + pad
    outside = int(((finite < low) | (finite > high)).sum())
    fig = go.Figure()
    for i, cls in enumerate(classes):
        chosen = values[labels == i]
        if kind == "violin":
            fig.add_trace(go.Violin(x=np.full(len(chosen), str(cls)), y=chosen, name=str(cls), box_visible=True,
                                    meanline_visible=True, line_color=class_colour(i), points=False,
                                    spanmode="hard"))
        else:
            fig.add_trace(go.Histogram(x=chosen, name=str(cls), marker_color=class_colour(i), opacity=0.85,
                                       xbins=dict(start=low, end=high, size=(high - low) / 50)))
    axis_title = name + (f" · higher = {higher_means.replace('(', '').replace(')', '')}" if higher_means else "")
    title = f"{name} by class" + (f" · {outside:,} extreme rows beyond the axis" if outside else "")
    if kind == "violin":
        _layout(fig, title, xaxis_title="Class", yaxis_title=axis_title, legend=False,
                yaxis=dict(range=[low, high]))
        if threshold is not None:
            fig.add_hline(y=threshold, line_dash="dash", line_color=DROPPED,
                          annotation_text=threshold_label, annotation_position="top left")
    else:
        _layout(fig, title, xaxis_title=axis_title, yaxis_title="Rows", barmode="stack",
                xaxis=dict(range=[low, high]))
        fig.update_layout(legend_traceorder="normal")
        if threshold is not None:
            fig.add_vline(x=threshold, line_dash="dash", line_color=DROPPED, line_width=2,
                          annotation_text=threshold_label, annotation_position="top right")
    return fig


def correlation_heatmap(frame: pd.DataFrame) -> go.Figure:
    """Spearman rank correlation between score columns."""
    corr = frame.corr(method="spearman").round(2)
    names = list(corr.columns)
    fig = go.Figure(go.Heatmap(
        z=corr.to_numpy(), x=names, y=names, zmin=-1, zmax=1, colorscale="RdBu", reversescale=True,
        text=corr.to_numpy(), texttemplate="%{text:.2f}", hovertemplate="%{y} vs %{x}: %{z:.2f}<extra></extra>",
        colorbar=dict(title="ρ"),
    ))
    size = max(360, 60 + 42 * len(names))
    return _layout(fig, "Scorer agreement (Spearman ρ)", height=size, legend=False,
                   yaxis=dict(autorange="reversed"))


def data_map(confidence: np.ndarray, variability: np.ndarray, labels: np.ndarray, classes: Sequence,
             hover: Sequence[str]) -> go.Figure:
    """Dataset cartography: mean confidence in the true label against its variability over epochs."""
    fig = go.Figure()
    for i, cls in enumerate(classes):
        chosen = labels == i
        fig.add_trace(go.Scattergl(
            x=variability[chosen], y=confidence[chosen], mode="markers", name=str(cls),
            marker=dict(size=5, color=class_colour(i), opacity=0.65), text=np.asarray(hover, dtype=object)[chosen],
            hovertemplate="%{text}<br>variability %{x:.3f}<br>confidence %{y:.3f}<extra></extra>",
        ))
    for text, x, y in (("easy to learn", 0.02, 0.97), ("ambiguous", 0.98, 0.5), ("hard to learn", 0.02, 0.03)):
        fig.add_annotation(text=text, x=x, y=y, xref="paper", yref="paper", showarrow=False,
                           xanchor="left" if x < 0.5 else "right", font=dict(color="#666", size=12))
    return _layout(fig, "Data Map (training dynamics)", height=440, xaxis_title="Variability (std of confidence)",
                   yaxis_title="Confidence (mean p of the given label)")


# --- Tune ---------------------------------------------------------------------------------------


def kept_and_dropped(ds, mask: np.ndarray) -> tuple:
    """Rows kept and dropped per class, in ``ds.classes`` order: the one count the pages and the summary show."""
    kept = np.bincount(ds.y[mask], minlength=ds.n_classes)
    return kept, np.bincount(ds.y, minlength=ds.n_classes) - kept


def kept_per_class(classes: Sequence, kept: np.ndarray, dropped: np.ndarray) -> go.Figure:
    """Stacked bars of kept and dropped rows per class."""
    names = [str(c) for c in classes]
    fig = go.Figure([
        go.Bar(x=names, y=kept, name="kept", marker_color=KEPT, hovertemplate="%{x}: %{y} kept<extra></extra>"),
        go.Bar(x=names, y=dropped, name="dropped", marker_color=DROPPED,
               hovertemplate="%{x}: %{y} dropped<extra></extra>"),
    ])
    return _layout(fig, "Rows kept and dropped per class", height=320, barmode="stack", xaxis_title="Class",
                   yaxis_title="Rows", xaxis=dict(type="category"))


def accuracy_comparison(pruned, full, random, *, title: str = "Cross-validated accuracy",
                        random_label: str = "Random, same size", pruned_label: str = "Pruned") -> go.Figure:
    """Horizontal bars of mean accuracy with ±1 std: full data, pruned subset, random of the same size.

    ``random_label``/``pruned_label`` say what a bar holds when it is not final ("Random, interpolated",
    "Pruned (optimistic)"), so no other size is ever called "same size".
    """
    rows = [(random_label, random, RANDOM), (pruned_label, pruned, KEPT), ("Full data", full, FULL)]
    rows = [r for r in rows if r[1] is not None]
    fig = go.Figure(go.Bar(
        y=[f"{r[0]}<br><b>{r[1].accuracy:.1%}</b> ± {r[1].std:.1%}" for r in rows], x=[r[1].accuracy for r in rows],
        orientation="h", marker_color=[r[2] for r in rows],
        error_x=dict(type="data", array=[r[1].std for r in rows], visible=True, color="#333", thickness=1.5),
        hovertemplate="%{x:.2%}<extra></extra>",
    ))
    # zoom on the bars' range: the differences that matter are a few points
    low = min(r[1].accuracy - 2 * r[1].std for r in rows)
    high = max(r[1].accuracy + 2 * r[1].std for r in rows)
    span = max(high - low, 0.02)
    return _layout(fig, title, height=260, legend=False, xaxis_title="Accuracy (axis zoomed)",
                   xaxis=dict(tickformat=".0%", range=[max(0.0, low - 0.5 * span), min(1.0, high + 0.9 * span)]))


def pruning_curve(curve: pd.DataFrame, *, current_keep: Optional[float] = None,
                  full_accuracy: Optional[float] = None) -> go.Figure:
    """Accuracy against keep fraction per strategy; random drawn as a band of ±1 std."""
    fig = go.Figure()
    # colour, dash and marker all differ, and points are nudged sideways, so overlapping lines stay apart
    styles = iter(zip(CURVE_COLOURS, ("solid", "dash", "dot", "dashdot"), ("circle", "square", "diamond", "x")))
    strategies = [s for s in curve["strategy"].unique() if s != "random"]
    for strategy, part in curve.groupby("strategy", sort=False):
        part = part.sort_values("keep_fraction")
        x, mean, std = part["keep_fraction"], part["accuracy_mean"], part["accuracy_std"].fillna(0)
        if strategy == "random":
            band_y = np.r_[mean + std, (mean - std)[::-1]]
            fig.add_trace(go.Scatter(x=np.r_[x, x[::-1]], y=band_y, fill="toself", mode="lines",
                                     fillcolor="rgba(160,164,168,0.3)", line=dict(width=0), hoverinfo="skip",
                                     name="random ± 1 std"))
            fig.add_trace(go.Scatter(x=x, y=mean, mode="lines+markers", name="random", line=dict(color=RANDOM)))
        else:
            colour, dash, symbol = next(styles, (ACCENT, "solid", "circle"))
            nudge = 0.006 * (strategies.index(strategy) - (len(strategies) - 1) / 2)
            fig.add_trace(go.Scatter(x=x + nudge, y=mean, mode="lines+markers", name=strategy,
                                     line=dict(color=colour, width=2.5, dash=dash),
                                     marker=dict(symbol=symbol, size=8), customdata=x,
                                     hovertemplate="%{customdata:.0%} kept: %{y:.1%}<extra>" + strategy + "</extra>",
                                     error_y=dict(type="data", array=std, visible=True, thickness=1)))
    if full_accuracy is not None:
        fig.add_hline(y=full_accuracy, line_dash="dot", line_color=FULL, annotation_text="full data",
                      annotation_position="bottom right")
    if current_keep is not None:
        fig.add_vline(x=current_keep, line_dash="dash", line_color="#888", annotation_text="current",
                      annotation_position="bottom right")
    return _layout(fig, "Pruning curve", height=420, xaxis_title="Fraction of rows kept",
                   yaxis_title="CV accuracy", xaxis=dict(tickformat=".0%"), yaxis=dict(tickformat=".1%"))
