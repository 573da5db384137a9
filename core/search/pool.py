"""The candidate pool of ``auto``: one candidate per distinct ranking, coverage-aware ones always in.

Scorers that rank the rows almost the same way (|Spearman| > 0.98 on this data: loss, margin,
entropy and least-confidence often do) would otherwise enter the search several times and
multiply the chance that one of them wins by luck; they count once, represented by the first of
the group. Coverage-centric selection (CCS) on every distinct score is always in the pool: it is
the strategy that does not collapse at small keep fractions. So are the coresets on the features
(k-center, k-means stratified sampling, facility location: :mod:`core.selection.coresets`) at small
budgets per class, where they are affordable (:func:`coreset_candidates`): there a subset that covers the
feature space is worth several points over random (digits at keep 0.1, ten held-out splits: +4.7 to +5.4
points for logistic regression, +5.6 to +6.6 for the MLP, where ``ccs:el2n:quota=proportional`` gave +2.6
and +2.0): the low-budget regime of Hacohen et al. (2022), where typical, covering rows beat hard ones.
"""

from __future__ import annotations

import numpy as np

from core.scorers import flag_column
from core.selection import score_names

CCS_BETAS = (0.0, 0.1, 0.3)
#: Fixed window starts (BWS) in the search: the leak-free estimate picks the start.
WINDOW_STARTS = (0.25, 0.5, 0.75)
#: Class-quota modes in the search (around random and CCS).
QUOTA_MODES = ("proportional", "drop")
SAME_RANKING = 0.98
#: Coreset strategies (no scores; label-blind but ``kmeans-diversity``, which keeps class shares).
CORESETS = ("kcenter", "kmeans-diversity", "facility-location")
#: The coresets join the pool below this many kept rows per class (digits at keep 0.1 / 0.3 / 0.5: 12 / 36 / 60
#: rows per class, the best coreset's gain over ``ccs:el2n:quota=proportional`` +2.7 / +0.2 / +0.6 points with
#: logistic regression): above it their gain is small and their cost is not (each runs once per fold of every
#: table: auto at 20,000 x 64, keep 0.1, 200 rows per class, took 82.7 s with them against 10.5 s without, busy).
CORESET_MAX_ROWS_PER_CLASS = 100
#: ... and where one k-center pass costs at most this (kept rows x rows x features): the greedy adds one row
#: at a time and each step measures every row.
CORESET_MAX_WORK = 3e9


def rank_groups(frame, names, threshold: float = SAME_RANKING) -> list:
    """Groups of score columns whose rankings agree beyond ``|Spearman| > threshold``.

    Parameters
    ----------
    frame : DataFrame of shape (n_samples, n_columns)
    names : list of str
        Score columns, in order of preference (the first of a group represents it).

    Returns
    -------
    list of list of str
    """
    if not names:
        return []
    values = np.column_stack([frame[name].to_numpy(dtype=float) for name in names])
    values = np.where(np.isfinite(values), values, np.nanmedian(values, axis=0))
    ranks = values.argsort(axis=0).argsort(axis=0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.corrcoef(ranks, rowvar=False) if len(names) > 1 else np.ones((1, 1))
    rho = np.nan_to_num(np.atleast_2d(rho))
    groups, assigned = [], set()
    for i, name in enumerate(names):
        if name in assigned:
            continue
        members = [names[j] for j in range(len(names)) if names[j] not in assigned and abs(rho[i, j]) > threshold]
        assigned.update(members)
        groups.append(members)
    return groups


def default_candidates(score_columns, frame=None) -> list:
    """Candidate strategy strings (random first).

    Every distinct score at both ends, CCS on it with a few betas (coverage-aware: always in),
    windows of its ranking at a few starts (BWS; the ends are the two end candidates), class
    quotas around random and CCS, and drop-flagged for flagging scorers. With ``frame`` (the scores), near-identical rankings
    count once.
    """
    columns = list(score_columns)
    scorers = score_names(columns)
    if frame is not None:
        scorers = [group[0] for group in rank_groups(frame, scorers)]
    out = ["random"]
    for name in scorers:
        out += [f"{name}:high", f"{name}:low"]
    out += coverage_candidates(scorers)
    out += [f"window:{name}:start={start:g}" for name in scorers for start in WINDOW_STARTS]
    out += quota_candidates(scorers)
    out += [f"drop-flagged:{name}" for name in scorers if flag_column(name) in columns]
    return out


def kept_rows_per_class(n_rows: int, n_classes: int, keep: float) -> float:
    """Rows a class keeps on average at ``keep``: what every small-budget rule of auto is gated on."""
    return float(keep) * float(n_rows) / max(int(n_classes), 1)


def coreset_candidates(n_rows: int, n_features: int, n_classes: int, keep: float) -> list:
    """The coresets of :data:`CORESETS` below :data:`CORESET_MAX_ROWS_PER_CLASS` kept rows per class where a
    k-center pass over ``keep`` of ``n_rows`` rows costs at most :data:`CORESET_MAX_WORK`, else none."""
    kept = float(keep) * float(n_rows)
    small = kept_rows_per_class(n_rows, n_classes, keep) < CORESET_MAX_ROWS_PER_CLASS
    return list(CORESETS) if small and kept * float(n_rows) * max(int(n_features), 1) <= CORESET_MAX_WORK else []


def auto_candidates(ds, frame, keep: float) -> list:
    """Auto's default pool at ``keep``: :func:`default_candidates` on the scores ``frame`` (rows of ``ds``) and
    the :func:`coreset_candidates` for ``ds``'s shape."""
    return default_candidates(frame.columns, frame) + coreset_candidates(ds.n_samples, ds.n_features, ds.n_classes,
                                                                         keep)


def coverage_candidates(scorers) -> list:
    """CCS on every score at each beta of :data:`CCS_BETAS`."""
    return [f"ccs:{name}:beta={beta:g}" for name in scorers for beta in CCS_BETAS]


def quota_candidates(scorers) -> list:
    """Class quotas (core.selection.quotas) around random and CCS: DRoP-style and class-proportional."""
    out = [f"random:quota={mode}" for mode in QUOTA_MODES]
    return out + [f"ccs:{name}:quota={mode}" for name in scorers for mode in QUOTA_MODES]


def is_coverage_aware(strategy: str) -> bool:
    """CCS on a score, or a coreset on the features: the best of them always reaches the short list."""
    return strategy.startswith("ccs:") or strategy in CORESETS
