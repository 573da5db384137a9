"""Column pruning: which feature columns can go without losing accuracy.

Columns are the original columns of the table (a categorical column's one-hot block and a
numeric column's missing-value indicator count as that column). Three rankings:

- ``permutation``: held-out accuracy lost when the column is shuffled in the held-out fold, under
  the same stratified folds as every estimate (the fast ridge model);
- ``mutual_info``: mutual information between the column and the label;
- ``l1``: how early the column enters the lasso path of a one-vs-rest label (exact LARS paths),
  as ``alpha_enter / alpha_max`` (0: never enters);
- ``consensus``: the mean of the three ranks (the default).

:func:`column_curve` is honest: for held-out fold *f* the ranking is computed on the other folds
only, then the least important columns are dropped and fold *f* scored; the full-columns reference
and random column subsets of the same size use the same folds. The columns finally kept come from
the ranking on all rows (as the exported rows come from the all-rows scores).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from core.data.loading import load_dataset
from core.evaluation import LiveEvaluator
from core.foundation import rng
from core.foundation.errors import ConfigError
from core.foundation.progress import check_cancelled, report
from core.columns import importance
from core.data.row_features import RowFeaturizer

METHODS = ("consensus", "permutation", "mutual_info", "l1")
CURVE_COLUMNS = ["n_columns", "n_dropped", "accuracy_mean", "accuracy_std", "random_mean", "random_std",
                 "full_mean", "full_std", "dropped"]

__all__ = ["rank_columns", "column_curve", "kept_columns", "suggest_cut", "prune_columns", "columns_block",
           "column_groups", "METHODS"]


def column_groups(ds) -> dict:
    """Original column -> positions of the feature columns made from it, in the data's column order.

    Columns the loader dropped (constant, id-like) are absent.
    """
    return RowFeaturizer.fit(ds).groups()


def rank_columns(ds, *, folds: int = 5, seed: int = 0, repeats: int = 3, alpha: float = 1.0) -> pd.DataFrame:
    """Rank the original feature columns by importance, most important first.

    Parameters
    ----------
    ds : Dataset
        Loaded from a table (tabular, array or embedding features, without ``max_dim``).
    folds, seed : int
        The stratified folds of the permutation importance (those of ``LiveEvaluator(ds, folds, seed)``).
    repeats : int
        Shuffles per column and fold.

    Returns
    -------
    DataFrame indexed by column with ``permutation`` (accuracy points lost), ``permutation_std``,
    ``mutual_info`` (nats), ``l1`` (in [0, 1]), ``width`` (feature columns it makes), one
    ``rank_<method>`` per method (1 = most important) and ``rank_consensus``; sorted by it.
    """
    groups = column_groups(ds)
    if len(groups) < 2:
        raise ConfigError("Column pruning needs at least two feature columns; this data has "
                          f"{len(groups)}.")
    table = importance.importances(ds.X, ds.y, list(groups.values()), ds.n_classes, folds=folds, seed=seed,
                                   repeats=repeats, alpha=alpha)
    table.index = pd.Index(list(groups), name="column")
    table["width"] = [len(v) for v in groups.values()]
    return table


def kept_columns(ranking: pd.DataFrame, n_columns: int, method: str = "consensus", order=None) -> list:
    """The ``n_columns`` most important columns by ``method``, in the data's column order."""
    _check_method(method)
    n_columns = int(n_columns)
    if not 1 <= n_columns <= len(ranking):
        raise ConfigError(f"Keep between 1 and {len(ranking)} columns, not {n_columns}.")
    best = set(ranking.sort_values(f"rank_{method}", kind="stable").index[:n_columns])
    order = list(order) if order is not None else list(ranking.index)
    return [c for c in order if c in best]


def column_curve(ds, *, method: str = "consensus", folds: int = 5, seed: int = 0, repeats: int = 3,
                 random_repeats: int = 5, n_points: int = 20, model: str = "fast", progress=None,
                 cancel=None) -> pd.DataFrame:
    """Cross-validated accuracy as the least important columns are dropped.

    Parameters
    ----------
    method : {"consensus", "permutation", "mutual_info", "l1"}
        The ranking that decides which columns go first (computed per fold on training rows).
    random_repeats : int
        Random column subsets of each size (the reference a ranking must beat).
    n_points : int
        At most this many column counts are evaluated (every count when there are fewer columns).
    model : str
        The evaluator model (``LiveEvaluator``'s ``model``).

    Returns
    -------
    DataFrame with one row per column count (most columns first): ``n_columns``, ``n_dropped``,
    ``accuracy_mean``/``accuracy_std`` (over folds), ``random_mean``/``random_std`` (over repeats x
    folds), ``full_mean``/``full_std`` and ``dropped`` (the columns the all-rows ranking drops).
    ``attrs["ranking"]`` holds :func:`rank_columns` on all rows and ``attrs["method"]`` the method.
    """
    _check_method(method)
    groups = column_groups(ds)
    names, members = list(groups), list(groups.values())
    fold_of_row = LiveEvaluator(ds, folds=folds, seed=seed).fold_of_row_  # duplicate groups kept whole
    ranking = rank_columns(ds, folds=folds, seed=seed, repeats=repeats)
    fold_orders = []
    for f in range(folds):  # each held-out fold is ranked without its labels
        check_cancelled(cancel)
        report(progress, f, folds + 1, f"ranking columns without fold {f + 1} of {folds}")
        train = fold_of_row != f
        table = importance.importances(ds.X[train], ds.y[train], members, ds.n_classes, folds=folds, seed=seed,
                                       repeats=repeats)
        fold_orders.append(list(np.argsort(table[f"rank_{method}"].to_numpy(), kind="stable")))
    report(progress, folds, folds + 1, "evaluating column counts")
    scorer = _SubsetScorer(ds, members, folds, seed, model, fold_of_row)
    full = scorer.fold_accuracies(tuple(range(len(names))))
    rows = []
    for n_keep in _column_counts(len(names), n_points):
        check_cancelled(cancel)
        per_fold = [scorer.fold_accuracies(tuple(sorted(order[:n_keep])))[f] for f, order in enumerate(fold_orders)]
        draws = rng(seed, "random-columns", n_keep)
        randoms = [scorer.fold_accuracies(tuple(sorted(draws.choice(len(names), n_keep, replace=False))))
                   for _ in range(int(random_repeats))]
        kept = set(kept_columns(ranking, n_keep, method))
        rows.append({"n_columns": n_keep, "n_dropped": len(names) - n_keep,
                     "accuracy_mean": float(np.mean(per_fold)), "accuracy_std": float(np.std(per_fold)),
                     "random_mean": float(np.mean(randoms)), "random_std": float(np.std(randoms)),
                     "full_mean": float(np.mean(full)), "full_std": float(np.std(full)),
                     "dropped": [c for c in names if c not in kept]})
    report(progress, folds + 1, folds + 1, "column curve done")
    out = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    out.attrs.update(ranking=ranking, method=method, model=scorer.describe())
    return out


def suggest_cut(curve: pd.DataFrame, points: float = 0.5) -> int:
    """The fewest columns whose estimate is within ``points`` accuracy points of all columns."""
    full = float(curve["full_mean"].iloc[0])
    close = curve[curve["accuracy_mean"] >= full - points / 100.0]
    return int(close["n_columns"].min()) if len(close) else int(curve["n_columns"].max())


def prune_columns(ds, columns) -> "object":
    """The Dataset reloaded with only ``columns`` as features (same rows, ids and labels).

    Its ``settings["features"]`` lists the kept columns, so a manifest written from it records
    them and ``apply`` reloads the data with the same columns.
    """
    groups = column_groups(ds)
    unknown = [c for c in columns if c not in groups]
    if unknown:
        raise ConfigError(f"Column(s) {unknown[:8]} are not feature columns of this data; "
                          f"choose among {list(groups)[:12]}.")
    if not columns:
        raise ConfigError("Keep at least one feature column.")
    settings = ds.settings or {}
    options = {"label": ds.label_column, "id": ds.id_column, "features": list(columns), "min_rows_per_class": 1,
               "featurizer": "embedding" if ds.kind == "embedding" else "tabular", "max_dim": settings.get("max_dim"),
               "drop_missing_labels": bool(settings.get("drop_missing_labels", False))}
    if settings.get("encoding"):
        options["encoding"] = settings["encoding"]
    # from the file when there is one: a reader types columns by the features asked for, as apply will
    source = ds.source if ds.source and Path(ds.source).exists() else None
    pruned = load_dataset(source if source else ds.frame, **options)
    return pruned if source else replace(pruned, source=ds.source)


def columns_block(ds, kept, *, method: Optional[str] = None, curve: Optional[pd.DataFrame] = None) -> dict:
    """The manifest's ``columns`` block: which original feature columns were kept and dropped.

    Parameters
    ----------
    ds : Dataset
        The data with every column (before pruning).
    kept : list of str
        The kept feature columns.
    curve : DataFrame, optional
        :func:`column_curve` output; the estimate at the cut is recorded.
    """
    features = list(column_groups(ds))
    kept = [c for c in features if c in set(kept)]
    block = {"kept": kept, "dropped": [c for c in features if c not in set(kept)], "method": method}
    if curve is not None:
        row = curve[curve["n_columns"] == len(kept)]
        if len(row):
            point = row.iloc[0]
            block["estimate"] = {key: float(point[key]) for key in
                                 ("accuracy_mean", "accuracy_std", "random_mean", "random_std", "full_mean", "full_std")}
            block["model"] = curve.attrs.get("model")
    return block


class _SubsetScorer:
    """Per-fold accuracy of the evaluator on a subset of original columns, cached by subset."""

    def __init__(self, ds, members: list, folds: int, seed: int, model: str, fold_of_row=None):
        self.ds, self.members, self.folds, self.seed, self.model = ds, members, folds, seed, model
        self.fold_of_row = fold_of_row  # the folds of all columns: the same rows per fold for every subset
        self._cache: dict = {}
        self._evaluator = None

    def fold_accuracies(self, subset: tuple) -> np.ndarray:
        if subset not in self._cache:
            positions = [p for g in subset for p in self.members[g]]
            digest = hashlib.sha256(f"{self.ds.fingerprint}:{positions}".encode()).hexdigest()
            narrow = replace(self.ds, X=np.ascontiguousarray(self.ds.X[:, positions]),
                             feature_names=[self.ds.feature_names[p] for p in positions], fingerprint=digest)
            self._evaluator = LiveEvaluator(narrow, folds=self.folds, seed=self.seed, model=self.model,
                                            fold_of_row=self.fold_of_row)
            self._cache[subset] = np.asarray(self._evaluator.full().fold_accuracies)
        return self._cache[subset]

    def describe(self) -> str:
        return self._evaluator.describe() if self._evaluator is not None else self.model


def _column_counts(n_columns: int, n_points: int) -> list:
    if n_columns <= n_points:
        return list(range(n_columns, 0, -1))
    grid = np.unique(np.round(np.linspace(1, n_columns, n_points)).astype(int))
    return sorted(grid.tolist(), reverse=True)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"Unknown column ranking '{method}'; choose one of {', '.join(METHODS)}.")
