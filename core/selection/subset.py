"""Selections: a kept mask plus the recipe that made it, built from a strategy string.

:func:`select` validates once, parses the strategy (grammar and the keep-end rule in
:mod:`core.strategy_parse`), runs the algorithm (:mod:`core.strategies`) and applies the manual
force-keep and force-drop lists on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import pandas as pd

from core.selection import algorithms as algo
from core.foundation.errors import ConfigError
from core.selection.grammar import CORESETS, StrategySpec, ccs_hard_end, default_end, list_strategies, parse_strategy, score_names, scorer_info

__all__ = ["Selection", "select", "list_strategies", "parse_strategy", "StrategySpec", "ccs_hard_end",
           "default_end", "score_names", "scorer_info", "align_scores", "jsonable", "CORESETS"]


@dataclass
class Selection:
    """A kept mask and the recipe that made it.

    Attributes
    ----------
    mask : ndarray of shape (n_samples,), dtype bool
        True for kept rows, in the Dataset's row order.
    kept_ids : ndarray of shape (n_kept,)
    strategy : str
        The strategy string as given; ``resolved_strategy`` is what ran (differs for ``auto``).
    params : dict
        Parsed parameters (scorer, end, beta, weights, force lists...).
    details : dict
        What the strategy wants to tell: CCS bins, auto's candidate table and honest estimate.
    """

    mask: np.ndarray
    kept_ids: np.ndarray
    strategy: str
    resolved_strategy: str
    params: dict
    keep: Optional[float]
    threshold: Optional[float]
    seed: int
    data_fingerprint: str
    n_input: int
    n_kept: int
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able recipe (no mask and no id list; a manifest adds ``kept_ids``)."""
        return jsonable({
            "strategy": self.strategy,
            "resolved_strategy": self.resolved_strategy,
            "params": self.params,
            "keep": self.keep,
            "threshold": self.threshold,
            "seed": self.seed,
            "data_fingerprint": self.data_fingerprint,
            "n_input": self.n_input,
            "n_kept": self.n_kept,
            "details": self.details,
        })

    def __repr__(self) -> str:
        return (f"Selection(strategy={self.resolved_strategy!r}, n_kept={self.n_kept}/{self.n_input}, "
                f"keep={self.keep}, threshold={self.threshold}, seed={self.seed})")


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and nested containers to plain JSON types."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# ----------------------------------------------------------------------------- select


def align_scores(ds, scores) -> pd.DataFrame:
    """Scores re-ordered to the Dataset's rows (raises ConfigError if rows are missing)."""
    if scores is None:
        return pd.DataFrame(index=pd.RangeIndex(ds.n_samples))
    if not isinstance(scores, pd.DataFrame):
        raise ConfigError("scores must be the DataFrame returned by core.compute_scores.")
    frame = scores
    if "id" in frame.columns and frame.index.name != "id":
        frame = frame.set_index("id")
    if not frame.index.is_unique:
        raise ConfigError("The scores repeat some ids; compute scores for this data set with core.compute_scores.")
    positions = pd.Index(frame.index).get_indexer(pd.Index(ds.ids))
    if (positions < 0).any():  # ids read back from CSV may be strings on one side only
        as_text = pd.Index(frame.index.astype(str))
        if as_text.is_unique:
            positions = as_text.get_indexer(pd.Index(ds.ids.astype(str)))
    if (positions < 0).any():
        raise ConfigError(
            f"The scores do not match this data set ({int((positions < 0).sum())} of {ds.n_samples} rows "
            "have no score); compute scores for this data set with core.compute_scores."
        )
    return frame.iloc[positions].reset_index(drop=True)


def _numeric(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def _oriented(frame, name: str, end: Optional[str]) -> tuple:
    end = end or default_end(name)
    values = _numeric(frame, name)
    return (values if end == "high" else -values), end


def select(ds, scores=None, strategy: str = "random", keep: Optional[float] = None,
           threshold: Optional[float] = None, seed: int = 0, *, force_keep=(), force_drop=(),
           evaluator=None, progress=None, cancel=None) -> Selection:
    """Turn scores into a kept subset.

    Parameters
    ----------
    ds : Dataset
    scores : DataFrame indexed by id, or None
        From :func:`core.compute_scores`; not needed for ``random`` and the coreset strategies.
    strategy : str
        See the module docstring for the grammar.
    keep : float in (0, 1], optional
        Fraction of rows to keep (``round(keep * n)`` rows, at least one).
    threshold : float, optional
        Instead of ``keep``, for single-score strategies: keep rows on the kept side of the
        threshold (``score >= threshold`` when the high end is kept, ``<=`` when the low end is).
    seed : int
        Seeds random choices and tie-breaking.
    force_keep, force_drop : sequences of ids
        Applied on top of any strategy (so ``n_kept`` can differ from the budget).
    evaluator : LiveEvaluator, optional
        Used by ``auto`` (one is made with 5 folds if not given).
    """
    if keep is not None and threshold is not None:
        raise ConfigError("Give either keep (a fraction) or threshold, not both.")
    if keep is not None:
        try:
            keep = float(keep)
        except (TypeError, ValueError):
            raise ConfigError(f"keep must be a fraction in (0, 1], got {keep!r}.") from None
        if not 0 < keep <= 1:
            raise ConfigError(f"keep must be a fraction in (0, 1], got {keep}; e.g. keep=0.3 keeps 30% of rows.")
    frame = align_scores(ds, scores)
    spec = parse_strategy(strategy, frame.columns)
    force_keep_pos, force_drop_pos = _force_positions(ds, force_keep, force_drop)
    if spec.kind == "auto":
        if keep is None:
            raise ConfigError("Strategy 'auto' needs keep (a fraction in (0, 1]); threshold does not apply.")
        from core.search.auto import auto_select
        sel = auto_select(ds, scores, keep, seed=seed, evaluator=evaluator, progress=progress, cancel=cancel)
        mask, params, details, resolved = sel.mask.copy(), dict(sel.params), dict(sel.details), sel.resolved_strategy
    else:
        mask, params, details = _run(ds, frame, spec, strategy, keep, threshold, seed, progress, cancel)
        resolved = strategy
    mask[force_keep_pos] = True
    mask[force_drop_pos] = False
    if len(force_keep_pos) or len(force_drop_pos):
        params["force_keep"] = [ds.ids[p] for p in force_keep_pos]
        params["force_drop"] = [ds.ids[p] for p in force_drop_pos]
    return Selection(mask=mask, kept_ids=ds.ids[mask], strategy=strategy, resolved_strategy=resolved,
                     params=jsonable(params), keep=keep, threshold=threshold, seed=int(seed),
                     data_fingerprint=ds.fingerprint, n_input=ds.n_samples, n_kept=int(mask.sum()),
                     details=jsonable(details))


def _force_positions(ds, force_keep, force_drop) -> tuple:
    out = []
    for name, ids in (("force_keep", force_keep), ("force_drop", force_drop)):
        ids = list(ids) if ids is not None else []
        try:
            out.append(ds.index_of(ids) if ids else np.zeros(0, dtype=np.int64))
        except KeyError as err:
            raise ConfigError(f"{name} names ids that are not in the data: {err.args[0]}; check the id column.") from None
    both = np.intersect1d(out[0], out[1])
    if len(both):
        raise ConfigError(f"ids are in both force_keep and force_drop: {list(ds.ids[both][:5])}; pick one.")
    return out[0], out[1]


def _run(ds, frame, spec: StrategySpec, text, keep, threshold, seed, progress, cancel) -> tuple:
    n = ds.n_samples
    opts = spec.option
    if threshold is not None and spec.kind != "top":
        raise ConfigError(
            f"threshold applies only to single-score strategies such as 'el2n' or 'el2n:low', "
            f"not to '{text}'; use keep= (a fraction) instead."
        )
    needs_budget = spec.kind not in ("top", "band", "drop-flagged")
    if needs_budget and keep is None:
        raise ConfigError(f"Strategy '{text}' needs keep (a fraction in (0, 1]), e.g. keep=0.3.")
    if spec.kind == "top" and keep is None and threshold is None:
        raise ConfigError(f"Strategy '{text}' needs keep (a fraction in (0, 1]) or threshold.")
    budget = algo.budget_from_keep(keep, n) if keep is not None else None
    params: dict = {"kind": spec.kind}
    details: dict = {}
    if spec.kind == "random":
        mask = algo.random_mask(n, budget, seed)
    elif spec.kind == "top":
        name = spec.scorers[0]
        oriented, end = _oriented(frame, name, spec.end)
        params.update(scorer=name, end=end)
        if threshold is not None:
            mask = np.nan_to_num(oriented, nan=-np.inf) >= (threshold if end == "high" else -threshold)
        else:
            mask = algo.top_mask(oriented, budget, seed)
    elif spec.kind == "balanced":
        mode = opts.get("mode", "proportional")
        oriented = None
        if spec.scorers:
            oriented, end = _oriented(frame, spec.scorers[0], spec.end)
            params.update(scorer=spec.scorers[0], end=end)
        params["mode"] = mode
        mask = algo.balanced_mask(ds.y, ds.n_classes, oriented, budget, mode, seed)
    elif spec.kind == "ccs":
        name = spec.scorers[0]
        hard = opts.get("hard") or ccs_hard_end(name)
        values = _numeric(frame, name)
        hardness = values if hard == "high" else -values
        beta, bins = opts.get("beta", 0.1), opts.get("bins", 50)
        mask, info = algo.ccs_mask(hardness, budget, beta, bins, seed)
        params.update(scorer=name, beta=beta, bins=bins, hard=hard, beta_used=info.pop("beta_used"))
        details.update(info)
    elif spec.kind == "band":
        values = _numeric(frame, spec.scorers[0])
        low, high = opts.get("low", 0.05), opts.get("high", 0.05)
        n_drop = n - budget if budget is not None else None
        if n_drop is None:
            n_low, n_high = int(round(low * n)), int(round(high * n))
        else:
            share = low / (low + high) if low + high > 0 else 0.5
            n_low = int(round(n_drop * share))
            n_high = n_drop - n_low
        params.update(scorer=spec.scorers[0], low=low, high=high, n_low=n_low, n_high=n_high)
        mask = algo.band_mask(values, n_low, n_high, seed)
    elif spec.kind == "drop-flagged":
        drop = np.zeros(n, dtype=bool)
        for name in spec.scorers:
            flags = frame[f"{name}_flag"].fillna(False).to_numpy(dtype=bool)
            group_col = f"{name}_group"
            groups = frame[group_col].fillna(-1).to_numpy(dtype=np.int64) if group_col in frame else None
            drop |= algo.dedupe_flags(flags, groups)
            details[f"{name}_flagged"] = int(flags.sum())
        oriented = None
        if len(spec.scorers) == 1:
            oriented, _ = _oriented(frame, spec.scorers[0], spec.end)
        params.update(scorers=list(spec.scorers))
        details["n_dropped_for_flags"] = int(drop.sum())
        mask = algo.drop_flagged_mask(drop, oriented, budget, seed)
    elif spec.kind == "scorecard":
        columns, ends = [], []
        for name, end in zip(spec.scorers, spec.ends):
            oriented, end = _oriented(frame, name, end)
            columns.append(oriented)
            ends.append(end)
        combined = algo.scorecard_values(columns, spec.weights)
        params.update(scorers=list(spec.scorers), ends=ends, weights=list(spec.weights))
        mask = algo.top_mask(combined, budget, seed)
    else:
        mask = _coreset(ds, spec.kind, budget, seed, progress, cancel)
    return mask, params, details


def _coreset(ds, kind: str, budget: int, seed: int, progress, cancel) -> np.ndarray:
    import inspect

    from core.selection import coresets

    function = {"kcenter": coresets.k_center_greedy, "kmeans-diversity": coresets.kmeans_diversity,
                "facility-location": coresets.facility_location}[kind]
    accepted = inspect.signature(function).parameters
    kwargs = {k: v for k, v in (("progress", progress), ("cancel", cancel)) if k in accepted}
    args = (ds.X, ds.y) if kind == "kmeans-diversity" else (ds.X,)
    positions = function(*args, budget, seed=seed, **kwargs)
    return algo.mask_from_positions(positions, ds.n_samples)
