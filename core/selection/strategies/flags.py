"""``drop-flagged[:<scorer>,...][:keep=<survivor>]`` (and ``dedupe``): drop the rows flagging scorers flag.

Which copy of a duplicate group survives (``keep=``, for scorers that group rows, like ``duplicate``):

- ``first`` (default): the scorer's own choice (``duplicate`` flags all but the first row in data order);
- ``confident``: the member whose given label its out-of-fold probability finds most likely (the
  logistic proxy's cross-fitted probabilities on the rows selected among; cleanlab's choice);
- ``central`` / ``atypical``: the member nearest to / farthest from the mean of its class (NeMo
  Curator's easy / hard duplicates measure to a k-means centroid; a group's own mean cannot choose
  within a pair, which most groups are: both copies lie at the same distance from it);
- ``random``: a seeded random member.

Other than ``first``, the survivor is chosen among the members no other named scorer flags (when one
is left), and every other member goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from core.foundation.errors import ConfigError
from core.foundation.seeds import rng
from core.scorers import ScoringContext, extra_column, flag_column
from core.selection.algorithms import dedupe_flags, drop_flagged_mask
from core.selection.partitioned.base import PartitionedRule, Rule
from core.selection.partitioned.rules import read_scores
from core.selection.registry import Option, StrategyKind, register_strategy

SURVIVORS = ("first", "confident", "central", "atypical", "random")


def _run(request):
    frame, names = request.frame, request.spec.scorers
    survivor = dict(request.spec.options).get("keep", "first")
    flags_of, groups_of = {}, {}
    for name in names:
        flags_of[name] = frame[flag_column(name)].fillna(False).to_numpy(dtype=bool)
        group_column = extra_column(name, "group")
        if group_column in frame:
            groups_of[name] = frame[group_column].fillna(-1).to_numpy(dtype=np.int64)
    ungrouped = np.zeros(request.ds.n_samples, dtype=bool)
    for name in names:
        if name not in groups_of:
            ungrouped |= flags_of[name]
    drop = ungrouped.copy()
    for name, groups in groups_of.items():
        if survivor == "first":
            drop |= dedupe_flags(flags_of[name], groups)
        else:
            drop |= survivor_drops(flags_of[name], groups, survivor_preference(request, survivor), ~ungrouped)
    details: dict = {f"{name}_flagged": int(flags.sum()) for name, flags in flags_of.items()}
    details["n_dropped_for_flags"] = int(drop.sum())
    if request.budget is not None and request.budget > int((~drop).sum()):
        details["budget_not_reached"] = True  # flagged rows never come back to fill a budget
    mask = drop_flagged_mask(drop, request.budget, request.seed)
    return mask, {"kind": "drop-flagged", "scorers": list(names), "survivor": survivor}, details


def survivor_drops(flags: np.ndarray, groups: np.ndarray, preference: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Rows to drop so that each flagged group keeps one member: its eligible member of highest preference.

    A group counts when any member is flagged; its survivor is chosen among the ``eligible`` members
    (all members when none is), and every other member goes. Ties go to the first in data order.
    """
    drop = flags & (groups < 0)
    for g in np.unique(groups[flags & (groups >= 0)]):
        members = np.flatnonzero(groups == g)
        pool = members[eligible[members]] if eligible[members].any() else members
        keep = pool[int(np.argmax(preference[pool]))]
        drop[members] = True
        drop[keep] = False
    return drop


def survivor_preference(request, survivor: str) -> np.ndarray:
    """Per row, how much the ``survivor`` rule prefers it (higher survives)."""
    ds = request.ds
    if survivor == "random":
        return rng(request.seed, "drop-flagged", "survivor").random(ds.n_samples)
    if survivor == "confident":
        proba = ScoringContext(ds, seed=request.seed, cancel=request.cancel).out_of_fold().probabilities
        return proba[np.arange(ds.n_samples), ds.y]
    distance = _distance_to_class_mean(ds.X, ds.y)
    return -distance if survivor == "central" else distance


def _distance_to_class_mean(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Euclidean distance of each row to the mean of the rows sharing its label."""
    X = np.asarray(X, dtype=np.float64)
    sums = np.zeros((int(y.max()) + 1, X.shape[1]))
    np.add.at(sums, y, X)
    means = sums / np.maximum(np.bincount(y), 1)[:, None]
    return np.linalg.norm(X - means[y], axis=1)


@dataclass(frozen=True)
class FlagsRule(Rule):
    """``drop-flagged`` on partitions: the rows no named scorer flags (partitioned duplicate flags already
    spare each group's first row)."""

    kind: ClassVar[str] = "drop-flagged"
    scorers: tuple = ()


def _plan(where, recipe, engine) -> FlagsRule:
    if dict(recipe.spec.options).get("keep", "first") != "first":
        raise ConfigError("On partitioned data duplicates keep their first copy; keep= other than first needs "
                          "the data in memory.")
    if recipe.keep is not None:
        raise ConfigError("On partitioned data drop-flagged takes no --keep; it drops every flagged row.")
    return FlagsRule(scorers=tuple(recipe.spec.scorers))


def _mask(index: int, where, rule: FlagsRule) -> np.ndarray:
    flags = read_scores(where.scores[index], [flag_column(name) for name in rule.scorers])
    return ~flags.fillna(False).to_numpy(dtype=bool).any(axis=1)


register_strategy(StrategyKind(
    name="drop-flagged", title="Drop flagged rows", order=50,
    syntax="drop-flagged[:<scorer>[,<scorer>...]][:keep=first|confident|central|atypical|random]",
    target="flagging-scorers", budget="optional-keep",
    options={"keep": Option(str, "first", "which copy of a duplicate group survives: the first, the most confident "
                            "for its label, the most central or atypical in its group, or a random one",
                            choices=SURVIVORS)},
    help="Drop every row a flagging scorer flags (label noise, duplicates keep one per group, outliers); needs "
         "no keep fraction, and one given only caps the clean rows kept (flagged rows never come back).",
    run=_run,
    partitioned=PartitionedRule(FlagsRule, _plan, _mask, how="exact without a keep fraction (none is taken)"),
), aliases={"dedupe": "drop-flagged:duplicate"})
