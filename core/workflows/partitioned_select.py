"""Select rows of a partitioned Parquet dataset from its partitioned scores, partition by partition.

The strategies that need only global order statistics or flags run here: ``<scorer>[:high|:low]``
with ``keep`` (the cut is the exact k-th value, found from per-partition histograms by
:func:`core.workflows.quantiles.order_statistics`; rows tied at the cut are taken in data order)
or ``threshold``, ``random`` (the ``keep`` share of rows with the largest per-row hash draw) and
``drop-flagged[:<scorer>]``. The kept rows are written with all original columns as a partitioned
dataset; the manifest records the rule, the cut and the counts, and points at the kept rows for
the ids (a list of every kept id would grow with the data).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from core.data.partitions import PartitionedData, open_partitioned, partition_files, read_partition_ids, row_uniforms
from core.foundation.encoding import to_jsonable
from core.foundation.errors import ConfigError, DataFileError
from core.scorers import flag_column
from core.selection import check_budget, parse_strategy
from core.selection.algorithms import budget_from_keep
from core.selection.ends import default_end
from core.workflows.engine import SerialEngine
from core.workflows.quantiles import order_statistics

SUPPORTED_KINDS = ("top", "random", "drop-flagged")
_RANDOM_STREAM = 4


def _scores_partition(path: str, columns: list):
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns).to_pandas()


def _oriented(index: int, plan: dict) -> np.ndarray:
    """Higher means more worth keeping, NaN never kept (as :mod:`core.selection.strategies.ranking`)."""
    if plan["kind"] == "random":
        part = plan["data"].partitions[index]
        return row_uniforms(plan["seed"], np.arange(part.start, part.stop), _RANDOM_STREAM)
    values = _scores_partition(plan["scores"][index], [plan["scorer"]])[plan["scorer"]].to_numpy(dtype=np.float64)
    return values if plan["end"] == "high" else -values


def _oriented_values(index: int, plan: dict) -> list:
    return [_oriented(index, plan)]


def _tie_counts(index: int, plan: dict, cut: float) -> tuple[int, int]:
    values = np.nan_to_num(_oriented(index, plan), nan=-np.inf)
    return int((values > cut).sum()), int((values == cut).sum())


def _mask(index: int, plan: dict) -> np.ndarray:
    if plan["kind"] == "drop-flagged":
        flags = _scores_partition(plan["scores"][index], [flag_column(n) for n in plan["scorers"]])
        return ~flags.fillna(False).to_numpy(dtype=bool).any(axis=1)
    values = np.nan_to_num(_oriented(index, plan), nan=-np.inf)
    if plan.get("threshold_cut") is not None:
        return values >= plan["threshold_cut"]
    mask = values > plan["cut"]
    ties = np.flatnonzero(values == plan["cut"])[:plan["ties_taken"][index]]
    mask[ties] = True
    return mask


def _write_task(index: int, plan: dict, folder: str) -> int:
    import pyarrow.parquet as pq

    data: PartitionedData = plan["data"]
    part = data.partitions[index]
    scored_ids = _scores_partition(plan["scores"][index], ["id"])["id"].to_numpy(dtype=object)
    if len(scored_ids) != part.rows or not (scored_ids.astype(str) == read_partition_ids(data, index).astype(str)).all():
        raise DataFileError(f"{plan['scores'][index]} does not hold the scores of {part.path} (ids differ); score "
                            "this data again with `workbench score`.")
    mask = _mask(index, plan)
    table = pq.read_table(part.path)
    pq.write_table(table.filter(mask), Path(folder) / f"part-{index:05d}.parquet")
    return int(mask.sum())


def _plan(data, scores_files: list, strategy: str, keep, threshold, seed: int, engine) -> dict:
    import pyarrow.parquet as pq

    spec = parse_strategy(strategy, pq.read_schema(scores_files[0]).names)
    check_budget(spec, keep, threshold)
    if spec.kind not in SUPPORTED_KINDS:
        raise ConfigError(f"Strategy {strategy!r} does not run on partitioned data yet; use <scorer>[:high|:low], "
                          "random or drop-flagged[:<scorer>].")
    plan = {"data": data, "scores": scores_files, "kind": spec.kind, "seed": int(seed), "scorers": list(spec.scorers)}
    if spec.kind == "drop-flagged":
        if keep is not None:
            raise ConfigError("On partitioned data drop-flagged takes no --keep; it drops every flagged row.")
        return plan
    if spec.kind == "top":
        plan["scorer"] = spec.scorers[0]
        plan["end"] = spec.end or default_end(spec.scorers[0])
    if threshold is not None:
        plan["threshold_cut"] = float(threshold) if plan["end"] == "high" else -float(threshold)
        return plan
    budget = budget_from_keep(keep, data.n_samples)
    parts = len(data.partitions)
    plan["cut"] = order_statistics(engine, parts, _oriented_values, (plan,), lambda counts: [budget])[0]
    if plan["cut"] is None:
        raise ConfigError("Fewer rows have a score than the keep fraction asks for; lower --keep.")
    counts = engine.map(_tie_counts, range(parts), plan, plan["cut"])
    remaining = budget - sum(above for above, _ in counts)
    taken = []
    for _, ties in counts:  # rows tied at the cut are taken in data order
        taken.append(int(min(ties, max(remaining, 0))))
        remaining -= taken[-1]
    plan["ties_taken"] = taken
    plan["budget"] = budget
    return plan


def select_partitioned(source, scores, out, manifest, *, strategy: str, keep: Optional[float] = None,
                       threshold: Optional[float] = None, seed: int = 0, label: str = "label",
                       id: Optional[str] = None, features=None, engine=None, sample: Optional[dict] = None) -> dict:
    """Select rows of a partitioned dataset and write them (all columns) as a partitioned dataset.

    Parameters
    ----------
    source, scores : str or Path
        The data and the scores :func:`core.workflows.partitioned.score_partitioned` wrote for them.
    out : str or Path
        New folder for the kept rows (one file per input partition).
    manifest : str or Path
        Where the JSON manifest goes.
    strategy, keep, threshold, seed
        As in :func:`core.select`, for the kinds in :data:`SUPPORTED_KINDS`.
    engine : SerialEngine or DaskEngine, optional
        Where the partition tasks run; the manifest's ``engine`` records which (``engine``,
        ``workers``, and ``cluster`` for Dask).
    sample : dict, optional
        The sample the recipe was tuned on (the dict :func:`core.data.partitions.load_partitioned_sample`
        returns: ``rows``, ``of``, ``seed``, ``stratified``, ``source``, ``data_fingerprint``); recorded as
        the manifest's ``sample`` (null when the recipe was not tuned on a sample).

    Returns
    -------
    dict
        The manifest.
    """
    engine = engine or SerialEngine()
    out = Path(out)
    if out.exists():
        raise ConfigError(f"{out} already exists; choose a new folder for the kept rows (nothing was written).")
    data = open_partitioned(source, label=label, id=id, features=features, map=engine.map)
    if sample is not None and sample.get("data_fingerprint") not in (None, data.fingerprint):
        raise ConfigError(f"The sample was drawn from other data than {source} (fingerprints differ); tune on a "
                          "sample of this data (load_partitioned_sample) and select again.")
    scores_files = partition_files(scores)
    if len(scores_files) != len(data.partitions):
        raise DataFileError(f"{scores} has {len(scores_files)} partitions but the data have {len(data.partitions)}; "
                            "pass the scores `workbench score` wrote for this data.")
    plan = _plan(data, scores_files, strategy, keep, threshold, seed, engine)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        kept = engine.map(_write_task, range(len(data.partitions)), plan, str(staging))
        document = _manifest(data, plan, strategy, keep, threshold, seed, engine, scores, out, sum(kept), sample)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    Path(manifest).write_text(json.dumps(to_jsonable(document), indent=2) + "\n")
    return document


def _manifest(data, plan, strategy, keep, threshold, seed, engine, scores, out, n_kept, sample) -> dict:
    from core import __version__

    record = Path(scores) / "_workbench_scores.json"
    return {
        "version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kind": "partitioned selection", "strategy": strategy, "keep": keep, "threshold": threshold,
        "seed": int(seed), "n_input": data.n_samples, "n_kept": int(n_kept),
        "rule": {key: plan[key] for key in ("kind", "scorer", "end", "cut", "threshold_cut", "budget", "scorers")
                 if key in plan},
        "data_fingerprint": data.fingerprint, "partitions": len(data.partitions),
        "engine": dict(engine.description),
        "sample": dict(sample) if sample is not None else None,
        "kept_rows": str(out), "kept_ids": {"dataset": str(out), "column": data.id or "row position"},
        "scores": str(scores),
        "scorers": json.loads(record.read_text()).get("scorers", []) if record.is_file() else [],
    }
