"""The scores table: one row per data row, one column per scorer, flags and extras named from it.

:func:`core.compute_scores` writes it (indexed by id); every consumer reads it back in the data's row
order through :func:`align_scores`, the one place that matches ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.foundation.errors import ConfigError
from core.scorers.base import get_scorer, reads_labels, registered_names


def align_scores(ds, scores) -> pd.DataFrame:
    """Scores re-ordered to the Dataset's rows, with a fresh 0..n-1 index.

    Parameters
    ----------
    ds : Dataset
    scores : DataFrame or None
        Indexed by id (``compute_scores``) or with an ``id`` column (a file from ``workbench score``).
        None gives an empty frame of ``ds.n_samples`` rows.

    Raises
    ------
    ConfigError
        If ids repeat or some rows of the data have no score.
    """
    if scores is None:
        return pd.DataFrame(index=pd.RangeIndex(ds.n_samples))
    if not isinstance(scores, pd.DataFrame):
        raise ConfigError("scores must be the DataFrame returned by core.compute_scores.")
    frame = scores.set_index("id") if "id" in scores.columns and scores.index.name != "id" else scores
    if not frame.index.is_unique:
        raise ConfigError("The scores repeat some ids; compute them again for this data "
                          "(core.compute_scores or `workbench score`).")
    if hasattr(ds, "positions_in"):  # a Dataset remembers the last table's positions (Index objects are immutable)
        positions = ds.positions_in(frame.index)
    else:
        positions = frame.index.get_indexer(pd.Index(ds.ids))
    if (positions < 0).any():  # ids read back from a CSV may be text on one side only
        as_text = pd.Index(frame.index.astype(str))
        if as_text.is_unique:
            positions = as_text.get_indexer(pd.Index(ds.ids.astype(str)))
    if (positions < 0).any():
        missing = [ds.ids[i] for i in np.flatnonzero(positions < 0)[:5]]
        raise ConfigError(
            f"The scores do not match this data set: {int((positions < 0).sum())} of {ds.n_samples} rows have no "
            f"score (e.g. ids {missing}); compute them again on this data (core.compute_scores or `workbench score`)."
        )
    return frame.iloc[positions].reset_index(drop=True)


def score_columns(scores) -> list:
    """The column names of a scores table (without an ``id`` column), without matching any rows.

    What parsing a strategy needs; cheaper than :func:`align_scores` on every slider move.
    """
    if scores is None:
        return []
    if not isinstance(scores, pd.DataFrame):
        raise ConfigError("scores must be the DataFrame returned by core.compute_scores.")
    return [c for c in scores.columns if c != "id"]


#: Key of ``DataFrame.attrs`` where :func:`core.compute_scores` records how the scores were made.
RECORDS_KEY = "workbench_scorers"


def scorer_records(scores) -> list:
    """What a manifest records about each scorer behind a scores table, the same from every face.

    Scores made by :func:`core.compute_scores` carry their records (name, family, keep, params,
    seed, folds, model); scores read back from a file carry none, and get each registered column's
    metadata with ``"source": "file"`` instead of the run settings.
    """
    if scores is None:
        return []
    recorded = scores.attrs.get(RECORDS_KEY)
    if recorded:
        return [dict(row) for row in recorded]
    rows = []
    for name in [c for c in scores.columns if c in registered_names()]:
        cls = get_scorer(name)
        rows.append({"name": name, "family": cls.family, "keep": cls.keep, "params": cls().get_params(),
                     "source": "file"})
    return rows


def recorded_scorers(scores, names=None, *, labelled_only: bool = False) -> list:
    """The scorers behind a scores table (those of ``names``), configured as its records say they ran.

    ``labelled_only`` keeps those whose values depend on the labels with those parameters
    (:func:`core.scorers.reads_labels`): the ones a fold-wise estimate must recompute without each
    fold's labels. Columns of unregistered scorers are left out (nothing could recompute them).
    """
    chosen = []
    for row in scorer_records(scores):
        name, params = row["name"], row.get("params") or {}
        if name not in registered_names() or (names is not None and name not in names):
            continue
        if not labelled_only or reads_labels(name, params):
            chosen.append(get_scorer(name)(**params))
    return chosen


def make_records(scorers, *, seed: int, folds: int, model: str, shared=None) -> list:
    """The records :func:`scorer_records` returns for scores computed by these scorer instances.

    ``shared`` (``ScoringContext.choices()``) says how the shared work was done - exact or
    approximate neighbours, out-of-fold models fitted on all rows or on a sample - and each
    record gets the part its scorer used (``"neighbors"``, ``"oof"``).
    """
    shared = shared or {}
    records = []
    for s in scorers:
        record = {"name": s.name, "family": s.family, "keep": s.keep, "params": s.get_params(), "seed": int(seed),
                  "folds": int(folds), "model": model}
        needs = s.needs()
        if needs.get("neighbors") and "neighbors" in shared:
            record["neighbors"] = dict(shared["neighbors"])
        if needs.get("oof") and "oof" in shared:
            record["oof"] = dict(shared["oof"])
        records.append(record)
    return records


def join_scores(older, newer):
    """One scores table from two of the same rows: newer columns win, and the records follow them.

    Use this (never ``DataFrame.join``, which drops the records) to add scorers to a table.
    """
    if older is None or older.empty:
        return newer
    if newer is None or newer.empty:
        return older
    kept = [c for c in older.columns if c not in newer.columns]
    joined = older[kept].join(newer, how="outer") if kept else newer.copy()
    fresh = {row["name"] for row in newer.attrs.get(RECORDS_KEY, [])}
    records = [r for r in older.attrs.get(RECORDS_KEY, []) if r["name"] not in fresh and r["name"] in joined.columns]
    joined.attrs[RECORDS_KEY] = records + [dict(r) for r in newer.attrs.get(RECORDS_KEY, [])]
    return joined
