"""Helpers of the Incoming page: the predicted-value chart and the value model as a download."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
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
