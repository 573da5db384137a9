"""Per-sample scorers and :func:`compute_scores`, the one entry point that runs them.

Importing this package registers every built-in scorer. Families live one per module:
:mod:`.geometry`, :mod:`.model` (out-of-fold probabilities, :mod:`.oof`), :mod:`.dynamics`
(the proxy-training loop, :mod:`.training`) and :mod:`.valuation`. Shared work is computed once
per call by :class:`~core.scorers.context.ScoringContext`.
"""

from __future__ import annotations

from typing import Iterable, Optional, Union

import numpy as np
import pandas as pd

from core.foundation import cache as disk_cache
from core.foundation.errors import ConfigError, LabelError
from core.foundation.progress import CancelToken, ProgressFn, check_cancelled, report, scaled
from core.scorers import geometry, model, dynamics, valuation, pseudo, oob
from core.scorers.base import METADATA_KEYS, Scorer, extra_column, flag_column, ScoreResult, get_scorer, list_scorers, reads_labels, register, registered_names, unregister
from core.scorers.context import LargeData, ScoringContext
from core.scorers.table import RECORDS_KEY, align_scores, join_scores, make_records, recorded_scorers, scorer_records
from core.scorers.oof import PROXY_MODELS
from core.scorers.cost import describe_seconds, estimate_seconds, machine_factor

__all__ = [
    "compute_scores", "list_scorers", "get_scorer", "reads_labels", "resolve_scorers", "register", "unregister",
    "Scorer", "ScoreResult", "ScoringContext", "DEFAULT_SCORERS", "METADATA_KEYS", "registered_names",
    "flag_column", "extra_column", "align_scores", "scorer_records", "recorded_scorers", "join_scores", "cached_scores", "LargeData",
    "estimate_seconds", "describe_seconds", "machine_factor",
]

#: The cheap set, one scorer per distinct signal (no two rank rows with |Spearman| > 0.95 on any
#: bundled sample; ``tests/test_scorer_papers.py`` checks it): density, label-free atypicality,
#: duplicates, outliers, label errors and data value. One out-of-fold fit and one neighbour graph
#: feed all of them. The other out-of-fold scores (loss, el2n, grand, margin, entropy,
#: least_confidence) rank rows like ``label_noise`` wherever the proxy gets nearly every row right
#: (|Spearman| >= 0.99 on penguins), so they are available by name but not in the default list.
DEFAULT_SCORERS = ["knn_density", "prototypicality", "duplicate", "outlier", "label_noise", "knn_shapley"]

#: Bump when a scorer's output changes meaning, so stale cached scores are not reused.
#: 2: knn_shapley's expected-tail start, label-free prototypicality and margin, stacked label_noise.
SCORES_VERSION = 2

_COST_WEIGHT = {"fast": 1.0, "medium": 3.0, "slow": 10.0}

ScorerSpec = Union[str, Scorer, type]


def resolve_scorers(names: Union[str, Iterable[ScorerSpec], None]) -> list[Scorer]:
    """Scorer instances for ``names``: ``"default"``, ``"all"``, ``"a,b"``, or a list of names,
    scorer classes or configured scorer instances. Repeats are dropped.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the valid ones) or an empty selection.
    """
    if names is None or (isinstance(names, str) and names.strip() == "default"):
        specs: list = list(DEFAULT_SCORERS)
    elif isinstance(names, str) and names.strip() == "all":
        specs = registered_names()
    elif isinstance(names, str):
        specs = [part.strip() for part in names.split(",") if part.strip()]
    else:
        specs = list(names)
    scorers: list[Scorer] = []
    for spec in specs:
        if isinstance(spec, Scorer):
            scorer = spec
        elif isinstance(spec, type) and issubclass(spec, Scorer):
            scorer = spec()
        elif isinstance(spec, str):
            scorer = get_scorer(spec.strip())()
        else:
            raise ConfigError(f"Cannot use {spec!r} as a scorer; give a scorer name such as 'el2n'.")
        if scorer.name not in [s.name for s in scorers]:
            scorers.append(scorer)
    if not scorers:
        raise ConfigError(f"No scorers selected. Valid scorers are: {', '.join(registered_names())}.")
    return scorers


def _validate(ds, scorers: list[Scorer], folds, model: str, device: Optional[str]) -> None:
    if model not in PROXY_MODELS:
        raise ConfigError(f"Unknown proxy model {model!r}; choose one of {', '.join(PROXY_MODELS)}.")
    if not isinstance(folds, (int, np.integer)) or isinstance(folds, bool) or folds < 2:
        raise ConfigError(f"folds must be an integer of at least 2, not {folds!r}.")
    if device not in (None, "cpu"):
        import torch

        if not (str(device).startswith("cuda") and torch.cuda.is_available()):
            raise ConfigError(f"Device {device!r} is not available here; use 'cpu' or leave it unset.")
    if ds.n_samples < 4:
        raise ConfigError(f"Scoring needs at least 4 rows; this data set has {ds.n_samples}.")
    labelled = [s.name for s in scorers if s.needs_labels]
    if labelled and ds.n_classes < 2:
        raise LabelError(
            f"Scorers {', '.join(labelled)} need at least two classes, but the labels have "
            f"{ds.n_classes}. Check the label column or choose label-free scorers "
            "(knn_density, duplicate, outlier)."
        )


def _cache_key(ds, scorer: Scorer, context: ScoringContext) -> str:
    parts = [ds.fingerprint, scorer.name, type(scorer).__name__, scorer.get_params(), context.seed, SCORES_VERSION,
             *context.scale_key()]
    if scorer.family == "model":
        parts += [context.folds, context.model]
    if scorer.family == "dynamics" or (scorer.family == "model" and context.model == "mlp"):
        parts.append(context.device)
    return disk_cache.cache_key(*parts)


def compute_scores(
    ds,
    names: Union[str, Iterable[ScorerSpec], None] = "default",
    seed: int = 0,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
    *,
    folds: int = 5,
    model: str = "logreg",
    cache: bool = True,
    device: Optional[str] = None,
    large: Optional[LargeData] = None,
    context: Optional[ScoringContext] = None,
    plan_for=(),
) -> pd.DataFrame:
    """Score every row of ``ds`` with the named scorers.

    Parameters
    ----------
    ds : Dataset
    names : "default", "all", "a,b" or list of str / Scorer
        Which scorers to run (:func:`list_scorers` shows them all).
    seed : int
        Seeds folds, proxy models and k-means; equal seeds give equal scores.
    progress : callable ``progress(done, total, message)``, optional
    cancel : object with ``is_set()``, optional
        Checked between scorers and between chunks; raises :class:`core.errors.Cancelled`.
    folds : int
        Folds of the cross-fitting behind the model-based scorers.
    model : {"logreg", "mlp", "knn"}
        Proxy model of the model-based scorers.
    cache : bool
        Reuse and store results in the on-disk cache (keyed by the data fingerprint, scorer,
        parameters, seed, folds and model).
    device : str, optional
        Torch device; CUDA when available, else CPU.
    large : LargeData, optional
        Above which sizes the neighbour graph turns approximate and the out-of-fold models are
        fitted on a sample (default :class:`LargeData`); the scorer records say which.
    context : ScoringContext, optional
        The shared work to read, made for ``ds`` (fold-wise scores pass one that reads work shared
        by every evaluator fold); by default a new one from the settings above. Scores read from a
        given context are not cached (their key could not say what it read).
    plan_for : names, optional
        Scorers a later call will compute with the same settings (the app scores family by
        family): the shared work (the neighbour graph) is sized for them too, so it is built once.

    Returns
    -------
    DataFrame of shape (n_samples, n_columns)
        Indexed by ``ds.ids`` (index name ``"id"``). One float64 column per scorer named as the
        scorer, a bool ``<name>_flag`` column for scorers that flag, and extra columns
        ``<name>_<what>`` (e.g. ``duplicate_group``, -1 for rows in no group).
    """
    scorers = resolve_scorers(names)
    _validate(ds, scorers, folds, model, device)
    cache = cache and context is None
    if context is None:
        context = ScoringContext(ds, seed=seed, folds=int(folds), model=model, device=device, cache=cache,
                                 progress=progress, cancel=cancel, large=large)
    context.plan(list(scorers) + (resolve_scorers(plan_for) if plan_for else []))
    weights = np.array([_COST_WEIGHT[s.cost] for s in scorers])
    bounds = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    results: dict[str, ScoreResult] = {}
    for position, scorer in enumerate(scorers):
        check_cancelled(cancel)
        context.progress = scaled(progress, bounds[position], bounds[position + 1])
        report(context.progress, 0, 1, f"scoring: {scorer.name}")
        key = _cache_key(ds, scorer, context)
        result = disk_cache.load("scores", key, cls=ScoreResult) if cache else None
        if result is None:
            result = scorer.compute(ds, context)
            if cache:
                disk_cache.save("scores", key, result)
        results[scorer.name] = result
        report(context.progress, 1, 1, f"scored: {scorer.name}")
    report(progress, 1000, 1000, "scores ready")
    frame = _to_frame(ds, results)
    frame.attrs[RECORDS_KEY] = make_records(scorers, seed=seed, folds=folds, model=model, shared=context.choices())
    return frame


def cached_scores(ds, names="default", seed: int = 0, *, folds: int = 5, model: str = "logreg",
                  device: Optional[str] = None, large: Optional[LargeData] = None) -> Optional[pd.DataFrame]:
    """The scores :func:`compute_scores` would return, if every one is already in the disk cache; else None.

    Computes nothing (a reopened app shows yesterday's scores at once, and scores nothing unasked).
    """
    scorers = resolve_scorers(names)
    _validate(ds, scorers, folds, model, device)
    context = ScoringContext(ds, seed=seed, folds=int(folds), model=model, device=device, cache=True,
                             progress=None, cancel=None, large=large)
    results: dict[str, ScoreResult] = {}
    for scorer in scorers:
        result = disk_cache.load("scores", _cache_key(ds, scorer, context), cls=ScoreResult)
        if result is None:
            return None
        results[scorer.name] = result
    frame = _to_frame(ds, results)
    frame.attrs[RECORDS_KEY] = make_records(scorers, seed=seed, folds=folds, model=model, shared=context.choices())
    return frame


def _to_frame(ds, results: dict[str, ScoreResult]) -> pd.DataFrame:
    columns: dict[str, np.ndarray] = {}
    for name, result in results.items():
        columns[name] = result.scores.astype(np.float64)
        if result.flags is not None:
            columns[flag_column(name)] = result.flags.astype(bool)
        for key, values in result.extra.items():
            columns[extra_column(name, key)] = values
    return pd.DataFrame(columns, index=pd.Index(ds.ids, name="id"))
