"""Helpers of the Incoming page: the predicted-value chart, the backtest table and verdict, the value model
as a download."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go


from workbench.charts import DROPPED, FONT, KEPT

#: Below these, a value model is little better than chance (R² for a score, AUROC for a decision).
WEAK = {"r2": 0.1, "auroc": 0.6}


def is_weak(quality: dict) -> bool:
    """Whether the out-of-fold quality is too low to select rows by."""
    return float(quality["value"]) < WEAK.get(quality["metric"], 0.0)


def predicted_values(values: np.ndarray, kept: np.ndarray, column: str) -> go.Figure:
    """Histogram of the predicted value of new rows, kept (teal) and dropped (red) stacked."""
    fig = go.Figure()
    edges = np.histogram_bin_edges(values, bins=40)
    for name, rows, colour in (("kept", kept, KEPT), ("dropped", ~kept, DROPPED)):
        counts, _ = np.histogram(values[rows], bins=edges)
        fig.add_trace(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, name=name, marker_color=colour,
                             width=np.diff(edges), hovertemplate="%{x:.3g}: %{y} rows<extra>" + name + "</extra>"))
    fig.update_layout(barmode="stack", template="plotly_white", font=FONT, height=340,
                      title=dict(text=f"Predicted {column} of the new rows", x=0.0, xanchor="left", font=dict(size=16)),
                      margin=dict(l=10, r=10, t=50, b=60), xaxis_title=f"predicted {column}", yaxis_title="rows",
                      legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0.0))
    return fig


def model_archive(model) -> bytes:
    """The saved model (``value_model.json`` + ``value_model.npz``) as the bytes of a zip file."""
    with tempfile.TemporaryDirectory(prefix="workbench-value-model-") as folder:
        path = model.save(Path(folder) / "value_model.json")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file in (path, path.with_suffix(".npz")):
                archive.write(file, arcname=file.name)
    return buffer.getvalue()


def backtest_table(model) -> pd.DataFrame:
    """One row per keep fraction and strategy: backtest accuracy ± spread, random's, the gain ± its uncertainty
    (a 95 % interval of the paired fold gains) and the verdict."""
    rows = []
    backtest = model.backtest or {}
    for block in backtest.get("keeps", []):
        rand = block["random"]
        for entry in block["strategies"]:
            rows.append({"keep": block["keep"], "strategy": entry["strategy"],
                         "default": "✓" if entry["strategy"] == model.default_strategy(block["keep"]) else "",
                         "accuracy %": f"{100 * entry['accuracy']:.1f} ± {100 * entry['std']:.1f}",
                         "random %": f"{100 * rand['accuracy']:.1f} ± {100 * rand['std']:.1f}",
                         "gain (points)": round(100 * entry["gain"], 1),
                         "± (points)": _points(entry.get("uncertainty")),
                         "verdict": entry.get("verdict") or "optimistic: no verdict"})
    return pd.DataFrame(rows)


def _points(value):
    """A fraction in points for the table (None: not recorded, as in models fitted before the uncertainty was)."""
    return None if value is None else round(100 * float(value), 1)


def proof(model, strategy: str, keep: float) -> tuple:
    """``(kind, text)`` for the selection about to be made: ``"warning"`` when the backtest says it loses
    to random (or cannot say), ``"info"`` otherwise."""
    found = model.backtest_of(strategy, keep)
    if found is None:
        return "warning", (f"`{strategy}` at keep {keep:g} was not backtested, so nothing shows it beats random "
                           "rows. Pick the default, or a keep near a backtested one.")
    if found["loses"]:
        return "warning", f"This selection is below random rows in the backtest: {found['text']}."
    return ("info" if found["leak_free"] else "warning"), f"Backtest: {found['text']}."
