"""Experiment tracking: log a selection as an MLflow run, so runs can be compared in MLflow's UI.

Off unless asked. One run per exported selection:

- params: strategy (as given and as run), keep, threshold, seed, rows in and kept, the scorers
  and each scorer's parameters (``scorer.<name>.<param>``), the evaluator's model and folds;
- metrics: the estimate against the full data and random subsets of the same size, with spread
  (``accuracy``, ``accuracy_std``, ``random_accuracy``, ``full_accuracy``, ``vs_random_points``...);
- artifacts: the manifest, the scores table, the pruning curve (PNG and CSV) and the stakeholder
  summary;
- tags: the data fingerprint, the source file and which face logged the run.

MLflow is an optional extra (``pip install 'data-pruning-workbench[tracking]'``). The store is a
local folder (``./mlruns``: a SQLite database and an artifacts folder) unless a URI is given, so
tracking works offline; view it with ``mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db``. The client is told its URI explicitly: logging never
changes the process's global MLflow settings.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from core.foundation import to_jsonable
from core.foundation.errors import ConfigError
from core.scorers import scorer_records

DEFAULT_STORE = "mlruns"
DEFAULT_EXPERIMENT = "data-pruning-workbench"
MISSING = ("Experiment tracking needs MLflow, which is not installed. Install it with "
           "`pip install 'data-pruning-workbench[tracking]'` (or `pip install mlflow`), or run without --mlflow.")

__all__ = ["log_selection", "track", "require_mlflow", "tracking_uri", "tracking_store", "mlflow_available",
           "DEFAULT_EXPERIMENT"]


def mlflow_available() -> bool:
    """True when the optional MLflow package can be imported."""
    import importlib.util

    return importlib.util.find_spec("mlflow") is not None


def tracking_store(uri: Optional[str] = None) -> tuple:
    """The store to log to, as ``(tracking_uri, artifact_root)``.

    Without ``uri`` (or with a plain folder path) the store is local: a SQLite database
    ``<folder>/mlflow.db`` with artifacts in ``<folder>/artifacts``, in ``./mlruns`` by default.
    URIs with a scheme (``http(s)://``, ``sqlite:///``, ``databricks``...) are passed through and
    their server decides where artifacts go (``artifact_root`` is None).
    """
    text = "" if uri is None else str(uri).strip()
    if text and ("://" in text or text.startswith("databricks")):
        return text, None
    folder = Path(text or DEFAULT_STORE).expanduser().resolve()
    return f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri()


def tracking_uri(uri: Optional[str] = None) -> str:
    """The tracking URI :func:`log_selection` uses for ``uri`` (see :func:`tracking_store`)."""
    return tracking_store(uri)[0]


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _experiment_id(client, name: str, artifact_root: Optional[str]) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = f"{artifact_root}/{name}" if artifact_root else None
    return client.create_experiment(name, artifact_location=location)


def run_params(sel, manifest: Optional[dict] = None, estimate: Optional[dict] = None, scores=None) -> dict:
    """Params of a run: the recipe of the selection and the scorers with their parameters."""
    params = {"strategy": sel.strategy, "resolved_strategy": getattr(sel, "resolved_strategy", sel.strategy),
              "keep": sel.keep, "threshold": sel.threshold, "seed": sel.seed,
              "n_input": sel.n_input, "n_kept": sel.n_kept}
    records = (manifest or {}).get("scorers") or scorer_records(scores)
    records = [r for r in records if isinstance(r, dict) and r.get("name")]
    params["scorers"] = ",".join(str(r["name"]) for r in records) or None
    for record in records:
        settings = dict(record.get("params") or {})
        settings.update({key: record[key] for key in ("seed", "folds", "model") if key in record})
        for key, value in sorted(settings.items()):
            params[f"scorer.{record['name']}.{key}"] = value
    if estimate:
        params.update(evaluator_model=estimate.get("model"), folds=estimate.get("folds"))
    return {key: _param_text(value) for key, value in params.items() if value is not None}


def run_metrics(estimate: Optional[dict]) -> dict:
    """Metrics of a run from a comparison block (``core.estimate``: :func:`core.evaluation.estimate_selection`)."""
    if not estimate:
        return {}
    metrics = {}
    for prefix, key in (("", "selection"), ("random_", "random"), ("full_", "full")):
        block = estimate.get(key) or {}
        for name in ("accuracy", "std"):
            if isinstance(block.get(name), (int, float)):
                metrics[f"{prefix}accuracy{'' if name == 'accuracy' else '_std'}"] = float(block[name])
    for key in ("vs_random", "vs_full"):
        if isinstance(estimate.get(key), (int, float)):
            metrics[f"{key}_points"] = 100.0 * float(estimate[key])
    if isinstance(estimate.get("leak_free"), bool):
        metrics["leak_free"] = float(estimate["leak_free"])
    return {k: v for k, v in metrics.items() if np.isfinite(v)}


def track(target, ds, sel, **details) -> Optional[dict]:
    """Log a run when asked, the way every face spells it: ``target`` is None/False (off), True (the
    local default store) or a store URI/folder. Returns :func:`log_selection`'s dict, or None."""
    if target is None or target is False:
        return None
    return log_selection(ds, sel, uri=None if target is True else str(target), **details)


def require_mlflow() -> None:
    """Raise the install hint now (before long work) when MLflow is missing."""
    if not mlflow_available():
        raise ConfigError(MISSING)


def log_selection(ds, sel, *, estimate: Optional[dict] = None, manifest: Optional[dict] = None,
                  scores: Optional[pd.DataFrame] = None, curve: Optional[pd.DataFrame] = None,
                  summary: Optional[str] = None, uri: Optional[str] = None,
                  experiment: str = DEFAULT_EXPERIMENT, run_name: Optional[str] = None,
                  origin: str = "api") -> dict:
    """Log one selection as an MLflow run.

    Parameters
    ----------
    ds : Dataset
        The data the selection was made on (its fingerprint becomes the ``data_fingerprint`` tag).
    sel : Selection
    estimate : dict, optional
        The comparison block (selection, full data, random subsets) logged as metrics.
    manifest : dict, optional
        The manifest (logged as ``manifest.json``; its scorer records become params).
    scores : DataFrame, optional
        The scores table (logged as ``scores.csv``).
    curve : DataFrame, optional
        ``core.pruning_curve`` output (logged as ``pruning_curve.csv`` and ``pruning_curve.png``).
    summary : str, optional
        The stakeholder summary (HTML or text); a plain-text one is written when omitted.
    uri : str, optional
        Tracking store; ``./mlruns`` (local, offline) by default.
    origin : str
        Which face logged the run ("api", "cli", "app"), as a tag.

    Returns
    -------
    dict
        ``run_id``, ``experiment_id``, ``uri`` and ``artifacts`` (file names logged).
    """
    require_mlflow()
    store, artifact_root = tracking_store(uri)
    from mlflow.exceptions import MlflowException

    try:
        return _log(ds, sel, store, artifact_root, estimate=estimate, manifest=manifest, scores=scores, curve=curve,
                    summary=summary, experiment=experiment, run_name=run_name, origin=origin)
    except (MlflowException, OSError) as err:  # an unreachable server, a read-only store, a bad URI
        reason = " ".join(str(err).split())[:300]
        raise ConfigError(f"Could not log the MLflow run to {store}: {reason}. Check the tracking URI and that the "
                          "store is reachable and writable, or run without MLflow tracking.") from None


def _log(ds, sel, store, artifact_root, *, estimate, manifest, scores, curve, summary, experiment, run_name,
         origin) -> dict:
    if artifact_root:
        Path(store[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    client = _client(store)
    experiment_id = _experiment_id(client, experiment, artifact_root)
    tags = {"data_fingerprint": ds.fingerprint, "workbench.origin": origin,
            "workbench.source": Path(ds.source).name if getattr(ds, "source", None) else "(in memory)"}
    run = client.create_run(experiment_id, run_name=run_name or f"{sel.strategy} keep={sel.keep}", tags=tags)
    run_id = run.info.run_id
    status = "FAILED"
    try:
        from mlflow.entities import Metric, Param

        params = [Param(k, v) for k, v in run_params(sel, manifest, estimate, scores).items()]
        stamp = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)
        metrics = [Metric(k, v, stamp, 0) for k, v in run_metrics(estimate).items()]
        client.log_batch(run_id, metrics=metrics, params=params)
        artifacts = _log_artifacts(client, run_id, sel, estimate, manifest, scores, curve, summary)
        status = "FINISHED"
    finally:
        client.set_terminated(run_id, status=status)
    return {"run_id": run_id, "experiment_id": experiment_id, "uri": store, "artifacts": artifacts}


def _log_artifacts(client, run_id, sel, estimate, manifest, scores, curve, summary) -> list:
    with tempfile.TemporaryDirectory(prefix="workbench-mlflow-") as folder:
        folder = Path(folder)
        if manifest is not None:
            (folder / "manifest.json").write_text(json.dumps(to_jsonable(manifest), indent=2), encoding="utf-8")
        if scores is not None:
            scores.to_csv(folder / "scores.csv", index=scores.index.name is not None)
        if curve is not None and len(curve):
            curve.to_csv(folder / "pruning_curve.csv", index=False)
            curve_png(curve, folder / "pruning_curve.png")
        text = summary if summary is not None else plain_summary(sel, estimate)
        name = "summary.html" if text.lstrip().startswith("<") else "summary.md"
        (folder / name).write_text(text, encoding="utf-8")
        written = sorted(p.name for p in folder.iterdir())
        for path in sorted(folder.iterdir()):
            client.log_artifact(run_id, str(path))
    return written


def plain_summary(sel, estimate: Optional[dict]) -> str:
    """A short Markdown summary of a selection for readers of the run."""
    lines = [f"# Selection: {sel.strategy}", "",
             f"- kept {sel.n_kept} of {sel.n_input} rows (keep={sel.keep}, threshold={sel.threshold}, seed={sel.seed})"]
    if estimate and estimate.get("summary"):
        lines.append(f"- estimate: {estimate['summary']}")
    return "\n".join(lines) + "\n"


def curve_png(curve: pd.DataFrame, path) -> None:
    """A pruning curve (``core.pruning_curve`` output) as a PNG: accuracy by keep fraction per strategy."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(figure)  # no pyplot: no global figure state
    axes = figure.add_subplot()
    for strategy, rows in curve.groupby("strategy", sort=False):
        rows = rows.sort_values("keep_fraction")
        x, y, spread = rows["keep_fraction"], 100 * rows["accuracy_mean"], 100 * rows["accuracy_std"]
        axes.plot(x, y, marker="o", label=str(strategy), linestyle="--" if strategy == "random" else "-")
        axes.fill_between(x, y - spread, y + spread, alpha=0.15)
    full = (curve.attrs or {}).get("full") or {}
    if isinstance(full.get("accuracy"), float):
        axes.axhline(100 * full["accuracy"], color="black", linewidth=1, label="full data")
    axes.set_xlabel("keep fraction")
    axes.set_ylabel("cross-validated accuracy (%)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, format="png")


def _param_text(value) -> str:
    value = to_jsonable(value)
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:6000]  # MLflow caps a param value's length
