"""What the partitioned halves of the strategy kinds share: reading a partition's scores and labels,
oriented values, and the top-by-count rule (an exact cut plus each partition's tied rows).

Rows tied at a cut are taken in data order (:func:`core.foundation.order_statistics.split_ties`
decides how many per partition), so a count is exact without gathering the tied rows.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from core.data.partitions import read_partition, row_uniforms
from core.foundation.errors import ConfigError
from core.foundation.order_statistics import above_or_first_ties, order_statistics, split_ties, tie_counts
from core.selection.partitioned.base import Partitions

#: The per-row hash stream random draws use on partitions (:func:`core.data.partitions.row_uniforms`).
RANDOM_STREAM = 4


def read_scores(path: str, columns: list):
    """The given columns of one scores partition, as a DataFrame."""
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns).to_pandas()


def score_columns(where: Partitions) -> list:
    """The column names of the scores files (of the first; all were written together)."""
    import pyarrow.parquet as pq

    return pq.read_schema(where.scores[0]).names


def positions(index: int, where: Partitions) -> np.ndarray:
    """Global row positions of partition ``index``, shape (rows,)."""
    part = where.data.partitions[index]
    return np.arange(part.start, part.stop)


def score_values(index: int, where: Partitions, scorer: str) -> np.ndarray:
    """One score column of partition ``index`` as float64 (NaN where missing)."""
    return read_scores(where.scores[index], [scorer])[scorer].to_numpy(dtype=np.float64)


def random_draws(index: int, where: Partitions) -> np.ndarray:
    """The per-row hash draw of partition ``index`` (the same however rows are partitioned)."""
    return row_uniforms(where.seed, positions(index, where), RANDOM_STREAM)


def oriented(index: int, where: Partitions, scorer: Optional[str], end: Optional[str]) -> np.ndarray:
    """Higher means more worth keeping, NaN never kept (as :mod:`core.selection.strategies.ranking`);
    without a scorer (``random``, ``balanced:random``) rows rank by their per-row hash draw."""
    if scorer is None:
        return random_draws(index, where)
    values = score_values(index, where, scorer)
    return values if end == "high" else -values


def class_codes(index: int, where: Partitions) -> np.ndarray:
    """Label codes (into ``data.classes``) of the partition's rows, shape (rows,), int64."""
    import pandas as pd
    import pyarrow.parquet as pq

    data = where.data
    labels = pq.read_table(data.partitions[index].path, columns=[data.label]).column(data.label).to_pandas()
    return pd.Index(data.classes).get_indexer(pd.Index(labels.to_numpy(dtype=object))).astype(np.int64)


def features(index: int, where: Partitions) -> np.ndarray:
    """The float32 feature rows of partition ``index`` (the columns the data were opened with)."""
    return read_partition(where.data, index)[2]


def _as_key(index: int, where: Partitions, values, args: tuple) -> list:
    return [values(index, where, *args)]  # NaN rows are left out of the order statistic


def _ties(index: int, where: Partitions, values, args: tuple, cut: float) -> tuple:
    return tie_counts(np.nan_to_num(values(index, where, *args), nan=-np.inf), cut)


def top_cut(engine, where: Partitions, values, args: tuple, budget: int) -> tuple[float, tuple]:
    """The cut that keeps exactly ``budget`` rows by ``values(index, where, *args)`` (higher kept, NaN
    never), and how many rows tied at it each partition takes (data order)."""
    cut = order_statistics(engine, where.count, _as_key, (where, values, args), lambda counts: [budget])[0]
    if cut is None:
        raise ConfigError("Fewer rows have a score than the keep fraction asks for; lower --keep.")
    return cut, tuple(split_ties(engine.map(_ties, where.parts, where, values, args, cut), budget))


def top_rows(index: int, where: Partitions, scorer: Optional[str], end: Optional[str], cut: float,
             ties: tuple) -> np.ndarray:
    """Rows above the cut of :func:`top_cut` plus this partition's tied rows, as a bool mask."""
    values = np.nan_to_num(oriented(index, where, scorer, end), nan=-np.inf)
    return above_or_first_ties(values, cut, ties[index])


# ----------------------------------------------------------------------------- per-class tops (balanced)


def _values_by_class(index: int, where: Partitions, values, args: tuple, n_classes: int):
    """One key per class: the values of that class's rows, NaN elsewhere (made one at a time)."""
    codes = class_codes(index, where)
    found = values(index, where, *args)
    return (np.where(codes == code, found, np.nan) for code in range(n_classes))


def _class_summary(index: int, where: Partitions, values, args: tuple, cuts: list) -> list:
    """Per class: (rows above its cut, rows tied at it, NaN rows)."""
    codes = class_codes(index, where)
    found = values(index, where, *args)
    summary = []
    for code, cut in enumerate(cuts):
        members = codes == code
        above, tied = tie_counts(np.where(members, found, np.nan), cut) if cut is not None else (0, 0)
        summary.append((above, tied, int((members & np.isnan(found)).sum())))
    return summary


def class_tops(engine, where: Partitions, values, args: tuple, quotas: list) -> dict:
    """Per class, the cut that keeps exactly its quota by ``values(index, where, *args)`` (higher kept, NaN
    last), and each partition's tied rows; a class with fewer scored rows than its quota takes all of
    them and then its first NaN rows (``cut`` None).

    Returns
    -------
    dict
        ``class_cuts`` (per class), ``class_ties`` and ``nan_taken`` (per partition and class).
    """
    scored = []

    def ranks(counts: list) -> list:
        scored.extend(counts)
        return [quota if 0 < quota <= count else None for quota, count in zip(quotas, counts)]

    cuts = order_statistics(engine, where.count, _values_by_class, (where, values, args, len(quotas)), ranks)
    summaries = engine.map(_class_summary, where.parts, where, values, args, cuts)
    ties, nan_taken = [[0] * len(quotas) for _ in where.parts], [[0] * len(quotas) for _ in where.parts]
    for code, (quota, cut) in enumerate(zip(quotas, cuts)):
        if cut is not None:
            taken = split_ties([part[code][:2] for part in summaries], quota)
        else:
            taken = split_ties([(0, part[code][2]) for part in summaries], max(quota - scored[code], 0))
        for index, count in enumerate(taken):
            (ties if cut is not None else nan_taken)[index][code] = count
    return {"class_cuts": tuple(cuts), "class_ties": tuple(map(tuple, ties)), "nan_taken": tuple(map(tuple, nan_taken))}


def class_top_rows(index: int, where: Partitions, values: np.ndarray, rule) -> np.ndarray:
    """The kept rows of partition ``index`` under a per-class rule (``quotas``, ``class_cuts``,
    ``class_ties``, ``nan_taken``), given the partition's values."""
    codes = class_codes(index, where)
    scored = ~np.isnan(values)
    mask = np.zeros(len(codes), dtype=bool)
    for code, (quota, cut) in enumerate(zip(rule.quotas, rule.class_cuts)):
        members = codes == code
        if quota == 0:
            continue
        if cut is None:  # every scored row of the class, then NaN rows in data order
            mask |= members & scored
            mask[np.flatnonzero(members & ~scored)[:int(rule.nan_taken[index][code])]] = True
            continue
        mask |= members & above_or_first_ties(np.where(members & scored, values, -np.inf), cut,
                                              rule.class_ties[index][code])
    return mask
