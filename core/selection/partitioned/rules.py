"""What the partitioned halves of the strategy kinds share: reading a partition's scores and labels,
oriented values, and the top-by-count rule (an exact cut plus each partition's tied rows).

Rows tied at a cut are taken by the largest per-row hash draw of ``(seed, position)`` - the draw
:func:`core.selection.algorithms.random_priority` ranks rows by in memory, so both engines keep the
same tied rows - found by a second order statistic over the tied rows' draws (:func:`tied_draws_cut`);
a draw tied too is taken in data order (:func:`core.foundation.order_statistics.split_ties`). Rules
written before ties were drawn (``tie_break`` absent) take tied rows in data order, as they did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.data.partitions import read_partition, row_uniforms
from core.foundation.errors import ConfigError
from core.foundation.order_statistics import above_or_first_ties, order_statistics, split_ties, tie_counts
from core.selection.algorithms import RANDOM_STREAM
from core.selection.partitioned.base import Partitions, Rule


@dataclass(frozen=True)
class CutRule(Rule):
    """The fields of a rule that keeps ``budget`` rows above one cut (:func:`top_cut`, :func:`kept_by_cut`)."""

    budget: Optional[int] = None
    cut: Optional[float] = None
    ties_taken: Optional[tuple] = None
    tie_draw_cut: Optional[float] = None
    tie_draw_ties: Optional[tuple] = None
    tie_break: Optional[str] = None


@dataclass(frozen=True)
class QuotaRule(Rule):
    """The fields of a rule that keeps a quota per class above a per-class cut (:func:`class_tops`)."""

    budget: int = 0
    quotas: tuple = ()
    class_cuts: tuple = ()
    class_ties: tuple = ()
    nan_taken: tuple = ()
    tie_draw_cuts: Optional[tuple] = None
    tie_draw_ties: Optional[tuple] = None
    tie_break: Optional[str] = None


def read_scores(path: str, columns: list):
    """The given columns of one scores partition, as a DataFrame."""
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns).to_pandas()


def scores_file_columns(where: Partitions) -> list:
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


def _tied_draws(index: int, where: Partitions, values, args: tuple, cuts: list, seed: int, sign: float,
                by_class: bool):
    """One key per cut: ``sign`` times the hash draw of the rows whose value equals it (and, ``by_class``,
    whose class is the key's), NaN elsewhere."""
    found = values(index, where, *args)
    draws = sign * row_uniforms(seed, positions(index, where), RANDOM_STREAM)
    codes = class_codes(index, where) if by_class else None
    return [np.where((found == cut) & (codes == key if by_class else True), draws, np.nan) if cut is not None
            else np.full(len(found), np.nan) for key, cut in enumerate(cuts)]


def _tied_draw_counts(index: int, where: Partitions, values, args: tuple, cuts: list, seed: int, sign: float,
                      by_class: bool, draw_cuts: list) -> list:
    keys = _tied_draws(index, where, values, args, cuts, seed, sign, by_class)
    return [tie_counts(key, cut) if cut is not None else (0, 0) for key, cut in zip(keys, draw_cuts)]


def tied_draws_cut(engine, where: Partitions, values, args: tuple, cuts: list, wanted: list, *, seed=None,
                   sign: float = 1.0, by_class: bool = False) -> tuple:
    """Per cut, which of the rows tied at it are taken: the ``wanted`` ones with the largest ``sign * draw``
    (``by_class``: cut ``c`` is class ``c``'s and only its rows count).

    Returns
    -------
    draw_cuts : tuple
        Per cut, the draw of the last tied row taken (None: none taken).
    draw_ties : tuple
        Per partition and cut, rows whose draw equals that draw cut that are taken (data order).
    """
    seed = where.seed if seed is None else seed
    wanted = [int(w) if cut is not None else 0 for w, cut in zip(wanted, cuts)]
    draw_cuts = order_statistics(engine, where.count, _tied_draws,
                                 (where, values, args, list(cuts), seed, sign, by_class),
                                 lambda counts: [w or None for w in wanted])
    counts = engine.map(_tied_draw_counts, where.parts, where, values, args, list(cuts), seed, sign, by_class,
                        draw_cuts)
    ties = [split_ties([part[key] for part in counts], w) if c is not None else [0] * where.count
            for key, (w, c) in enumerate(zip(wanted, draw_cuts))]
    return tuple(draw_cuts), tuple(tuple(row) for row in zip(*ties)) if ties else ()


def tied_rows(found: np.ndarray, draws: np.ndarray, cut: float, draw_cut, draw_ties: int) -> np.ndarray:
    """Rows tied at ``cut`` whose draw is above ``draw_cut``, plus the first ``draw_ties`` at it."""
    if draw_cut is None:
        return np.zeros(len(found), dtype=bool)
    return above_or_first_ties(np.where(found == cut, draws, -np.inf), draw_cut, draw_ties)


def top_cut(engine, where: Partitions, values, args: tuple, budget: int) -> dict:
    """The cut that keeps exactly ``budget`` rows by ``values(index, where, *args)`` (higher kept, NaN
    never), and which rows tied at it are taken (by draw): the fields ``cut``, ``ties_taken`` (per
    partition), ``tie_draw_cut``, ``tie_draw_ties`` and ``tie_break`` of a rule."""
    cut = order_statistics(engine, where.count, _as_key, (where, values, args), lambda counts: [budget])[0]
    if cut is None:
        raise ConfigError("Fewer rows have a score than the keep fraction asks for; lower --keep.")
    counts = engine.map(_ties, where.parts, where, values, args, cut)
    wanted = budget - sum(above for above, _ in counts)
    draw_cuts, draw_ties = tied_draws_cut(engine, where, values, args, [cut], [wanted])
    return {"cut": cut, "ties_taken": tuple(split_ties(counts, budget)), "tie_draw_cut": draw_cuts[0],
            "tie_draw_ties": tuple(part[0] for part in draw_ties), "tie_break": "hash"}


def kept_by_cut(index: int, where: Partitions, found: np.ndarray, rule) -> np.ndarray:
    """Rows above ``rule.cut`` plus the tied rows the rule takes (by draw, or in data order for old rules)."""
    found = np.nan_to_num(found, nan=-np.inf)
    if getattr(rule, "tie_break", None) != "hash":
        return above_or_first_ties(found, rule.cut, rule.ties_taken[index])
    draws = row_uniforms(where.seed, positions(index, where), RANDOM_STREAM)
    return (found > rule.cut) | tied_rows(found, draws, rule.cut, rule.tie_draw_cut,
                                         rule.tie_draw_ties[index] if rule.tie_draw_ties else 0)




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
    wanted = [quota - sum(part[code][0] for part in summaries) for code, quota in enumerate(quotas)]
    draw_cuts, draw_ties = tied_draws_cut(engine, where, values, args, cuts, wanted, by_class=True)
    return {"class_cuts": tuple(cuts), "class_ties": tuple(map(tuple, ties)), "nan_taken": tuple(map(tuple, nan_taken)),
            "tie_draw_cuts": draw_cuts, "tie_draw_ties": draw_ties, "tie_break": "hash"}


def class_top_rows(index: int, where: Partitions, values: np.ndarray, rule) -> np.ndarray:
    """The kept rows of partition ``index`` under a per-class rule (``quotas``, ``class_cuts``,
    ``class_ties``, ``nan_taken``), given the partition's values."""
    codes = class_codes(index, where)
    scored = ~np.isnan(values)
    mask = np.zeros(len(codes), dtype=bool)
    hashed = getattr(rule, "tie_break", None) == "hash"
    draws = row_uniforms(where.seed, positions(index, where), RANDOM_STREAM) if hashed else None
    for code, (quota, cut) in enumerate(zip(rule.quotas, rule.class_cuts)):
        members = codes == code
        if quota == 0:
            continue
        if cut is None:  # every scored row of the class, then NaN rows in data order
            mask |= members & scored
            mask[np.flatnonzero(members & ~scored)[:int(rule.nan_taken[index][code])]] = True
            continue
        found = np.where(members & scored, values, -np.inf)
        if hashed:
            mask |= members & ((found > cut) | tied_rows(found, draws, cut, rule.tie_draw_cuts[code],
                                                         rule.tie_draw_ties[index][code]))
        else:
            mask |= members & above_or_first_ties(found, cut, rule.class_ties[index][code])
    return mask
