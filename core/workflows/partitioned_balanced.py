"""``balanced:<scorer|random>`` on partitioned data: class quotas, then the top of each class.

The quotas come from the class counts :func:`core.data.partitions.open_partitioned` already summed
(:func:`core.selection.algorithms.proportional_quotas` or ``equal_quotas``, as in memory); each
class's cut is a per-class order statistic of the oriented score (or of the per-row hash draw for
``random``), and rows tied at it are taken in data order. A class with fewer scored rows than its
quota takes all of them and then its first NaN rows, as memory sorts NaN last. In memory, ties and
``random`` use a seeded permutation: the counts per class are the same, tied or random rows differ.
"""

from __future__ import annotations

import numpy as np

from core.selection import default_end
from core.selection.algorithms import budget_from_keep, equal_quotas, proportional_quotas
from core.workflows.partitioned_rules import class_codes, oriented, split_ties, tie_counts
from core.workflows.quantiles import order_statistics


def _values_by_class(index: int, plan: dict):
    """One key per class: the oriented values of that class's rows, NaN elsewhere (made one at a time)."""
    codes = class_codes(index, plan)
    values = oriented(index, plan)
    return (np.where(codes == code, values, np.nan) for code in range(len(plan["quotas"])))


def _class_summary_task(index: int, plan: dict, cuts: list) -> list:
    """Per class: (rows above its cut, rows tied at it, NaN rows)."""
    codes = class_codes(index, plan)
    values = oriented(index, plan)
    summary = []
    for code, cut in enumerate(cuts):
        members = codes == code
        above, tied = tie_counts(np.where(members, values, np.nan), cut) if cut is not None else (0, 0)
        summary.append((above, tied, int((members & np.isnan(values)).sum())))
    return summary


def plan_balanced(spec, plan: dict, keep, threshold, engine) -> dict:
    """Plan ``balanced:<scorer|random>[:high|:low][:mode=..]`` with ``keep``.

    Adds ``mode``, ``scorer`` and ``end`` (None for random), ``budget``, ``quotas`` (per class),
    ``class_cuts`` (None: the class takes every scored row), ``class_ties`` and ``nan_taken`` (per
    partition and class).
    """
    data = plan["data"]
    mode = spec.option["mode"]
    scorer = spec.scorers[0] if spec.scorers else None
    plan.update(mode=mode, scorer=scorer, end=(spec.end or default_end(scorer)) if scorer else None)
    budget = budget_from_keep(keep, data.n_samples)
    quota_rule = proportional_quotas if mode == "proportional" else equal_quotas
    quotas = [int(q) for q in quota_rule(data.class_counts, budget)]
    plan.update(budget=budget, quotas=quotas)
    parts = len(data.partitions)
    scored = []

    def ranks(counts: list) -> list:
        scored.extend(counts)
        return [quota if 0 < quota <= count else None for quota, count in zip(quotas, counts)]

    cuts = order_statistics(engine, parts, _values_by_class, (plan,), ranks)
    summaries = engine.map(_class_summary_task, range(parts), plan, cuts)
    ties, nan_taken = [[0] * len(quotas) for _ in range(parts)], [[0] * len(quotas) for _ in range(parts)]
    for code, (quota, cut) in enumerate(zip(quotas, cuts)):
        if cut is not None:
            taken = split_ties([part[code][:2] for part in summaries], quota)
        else:
            taken = split_ties([(0, part[code][2]) for part in summaries], max(quota - scored[code], 0))
        for index, count in enumerate(taken):
            (ties if cut is not None else nan_taken)[index][code] = count
    plan.update(class_cuts=cuts, class_ties=ties, nan_taken=nan_taken)
    return plan
