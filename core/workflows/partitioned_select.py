"""Select rows of a partitioned Parquet dataset from its partitioned scores, partition by partition.

The strategies that need only global order statistics, bin counts or flags run here:
``<scorer>[:high|:low]`` with ``keep`` (the cut is the exact k-th value, found from per-partition
histograms by :func:`core.workflows.quantiles.order_statistics`; rows tied at the cut are taken in
data order) or ``threshold``, ``random`` (the ``keep`` share of rows with the largest per-row hash
draw), ``drop-flagged[:<scorer>]``, ``ccs:<scorer>`` (:mod:`core.workflows.partitioned_ccs`) and
``balanced:<scorer|random>`` (:mod:`core.workflows.partitioned_balanced`).
Planning fixes the *rule* (:mod:`core.workflows.partitioned_rules`); the kept rows are then written
with all original columns as a partitioned dataset. The manifest records the rule, so ``apply``
(:mod:`core.workflows.partitioned_apply`) re-runs it exactly, and points at the kept rows for the ids
(a list of every kept id would grow with the data).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from core.data.partitions import PartitionedData, open_partitioned, partition_files, read_partition_ids
from core.foundation.encoding import to_jsonable
from core.foundation.progress import check_cancelled, report
from core.foundation.errors import ConfigError, DataFileError
from core.selection import check_budget, default_end, parse_strategy, strategy_kinds
from core.selection.algorithms import budget_from_keep
from core.workflows.engine import SerialEngine
from core.workflows.partitioned_balanced import plan_balanced
from core.workflows.partitioned_ccs import plan_ccs
from core.workflows.partitioned_rules import kept_mask, oriented, read_scores, split_ties, tie_counts
from core.workflows.quantiles import order_statistics

SUPPORTED_KINDS = ("top", "random", "drop-flagged", "ccs", "balanced")
MANIFEST_KIND = "partitioned selection"


def _oriented_values(index: int, plan: dict) -> list:
    return [oriented(index, plan)]


def _tie_task(index: int, plan: dict, cut: float) -> tuple[int, int]:
    return tie_counts(np.nan_to_num(oriented(index, plan), nan=-np.inf), cut)


def _plan_flags(spec, plan: dict, keep, threshold, engine) -> dict:
    if keep is not None:
        raise ConfigError("On partitioned data drop-flagged takes no --keep; it drops every flagged row.")
    return plan


def _plan_top(spec, plan: dict, keep, threshold, engine) -> dict:
    if spec.kind == "top":
        plan["scorer"] = spec.scorers[0]
        plan["end"] = spec.end or default_end(spec.scorers[0])
    if threshold is not None:
        plan["threshold_cut"] = float(threshold) if plan["end"] == "high" else -float(threshold)
        return plan
    budget = budget_from_keep(keep, plan["data"].n_samples)
    parts = len(plan["data"].partitions)
    plan["cut"] = order_statistics(engine, parts, _oriented_values, (plan,), lambda counts: [budget])[0]
    if plan["cut"] is None:
        raise ConfigError("Fewer rows have a score than the keep fraction asks for; lower --keep.")
    plan["ties_taken"] = split_ties(engine.map(_tie_task, range(parts), plan, plan["cut"]), budget)
    plan["budget"] = budget
    return plan


_PLANNERS = {"top": _plan_top, "random": _plan_top, "drop-flagged": _plan_flags, "ccs": plan_ccs,
             "balanced": plan_balanced}


def _in_memory_kinds() -> list:
    return [kind.name for kind in strategy_kinds() if kind.name not in _PLANNERS]


def _plan(data, scores_files: list, strategy: str, keep, threshold, seed: int, engine) -> dict:
    import pyarrow.parquet as pq

    spec = parse_strategy(strategy, pq.read_schema(scores_files[0]).names)
    check_budget(spec, keep, threshold)
    if spec.kind not in _PLANNERS:
        raise ConfigError(f"Strategy {strategy!r} does not run on partitioned data yet; use <scorer>[:high|:low], "
                          "random, drop-flagged[:<scorer>], ccs:<scorer> or balanced:<scorer|random>. The other "
                          f"kinds ({', '.join(_in_memory_kinds())}) run in memory only: tune them on a sample "
                          "(load_partitioned_sample) or load the data on one machine.")
    plan = {"data": data, "scores": scores_files, "kind": spec.kind, "seed": int(seed), "scorers": list(spec.scorers)}
    return _PLANNERS[spec.kind](spec, plan, keep, threshold, engine)


def rule_of(plan: dict) -> dict:
    """The JSON-able rule of a plan: everything but where it runs (``data``, ``scores``, ``seed``)."""
    return {key: value for key, value in plan.items() if key not in ("data", "scores", "seed")}


def _write_task(index: int, plan: dict, folder: str) -> int:
    import pyarrow.parquet as pq

    data: PartitionedData = plan["data"]
    part = data.partitions[index]
    scored_ids = read_scores(plan["scores"][index], ["id"])["id"].to_numpy(dtype=object)
    if len(scored_ids) != part.rows or not (scored_ids.astype(str) == read_partition_ids(data, index).astype(str)).all():
        raise DataFileError(f"{plan['scores'][index]} does not hold the scores of {part.path} (ids differ); score "
                            "this data again with `workbench score`.")
    mask = kept_mask(index, plan)
    table = pq.read_table(part.path)
    pq.write_table(table.filter(mask), Path(folder) / f"part-{index:05d}.parquet")
    return int(mask.sum())


def write_kept(plan: dict, out: Path, engine, finish) -> dict:
    """Write every partition's kept rows into a staging folder, then rename it to ``out``.

    ``finish(n_kept) -> dict`` builds the manifest before the rename, so an error leaves nothing.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        kept = engine.map(_write_task, range(len(plan["data"].partitions)), plan, str(staging))
        document = finish(int(sum(kept)))
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return document


def scores_fingerprint(scores, engine) -> str:
    """Fingerprint of a scores folder (its files' bytes), so ``apply`` can tell other scores apart."""
    return open_partitioned(scores, label="label", id="id", map=engine.map).fingerprint


def check_scores(data: PartitionedData, scores) -> list:
    """The scores files of ``data``: one per data partition, else a DataFileError."""
    scores_files = partition_files(scores)
    if len(scores_files) != len(data.partitions):
        raise DataFileError(f"{scores} has {len(scores_files)} partitions but the data have {len(data.partitions)}; "
                            "pass the scores `workbench score` wrote for this data.")
    return scores_files


def select_partitioned(source, scores, out, manifest, *, strategy: str, keep: Optional[float] = None,
                       threshold: Optional[float] = None, seed: int = 0, label: str = "label",
                       id: Optional[str] = None, features=None, engine=None, sample: Optional[dict] = None,
                       progress=None, cancel=None) -> dict:
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
    progress : callable ``(done, total, message)``, optional
        Called between the stages (summaries, rule, writing, done).
    cancel : threading.Event, optional
        Checked between the stages; a cancel before the rename leaves nothing written.

    Returns
    -------
    dict
        The manifest.
    """
    engine = engine or SerialEngine()
    out = Path(out)
    if out.exists():
        raise ConfigError(f"{out} already exists; choose a new folder for the kept rows (nothing was written).")
    report(progress, 0, 4, "reading the partitions (label counts, file hashes)")
    data = open_partitioned(source, label=label, id=id, features=features, map=engine.map)
    check_cancelled(cancel)
    report(progress, 1, 4, f"finding the cut for {strategy} over {data.n_samples:,} rows")
    if sample is not None and sample.get("data_fingerprint") not in (None, data.fingerprint):
        raise ConfigError(f"The sample was drawn from other data than {source} (fingerprints differ); tune on a "
                          "sample of this data (load_partitioned_sample) and select again.")
    plan = _plan(data, check_scores(data, scores), strategy, keep, threshold, seed, engine)
    recipe = {"strategy": strategy, "keep": keep, "threshold": threshold, "seed": int(seed), "sample": sample,
              "scores": scores, "scores_fingerprint": scores_fingerprint(scores, engine)}
    check_cancelled(cancel)
    report(progress, 2, 4, f"writing the kept rows of {len(data.partitions)} partitions")
    manifest = Path(manifest)
    staged = manifest.with_name(f".{manifest.name}.partial")

    def finish(n_kept: int) -> dict:  # the manifest is written before the kept rows are published
        document = partitioned_manifest(plan, recipe, engine, out, n_kept)
        staged.write_text(json.dumps(to_jsonable(document), indent=2) + "\n")
        return document

    try:
        document = write_kept(plan, out, engine, finish)
        staged.replace(manifest)
    finally:
        staged.unlink(missing_ok=True)
    report(progress, 4, 4, f"kept {document['n_kept']:,} of {data.n_samples:,} rows")
    return document


def partitioned_manifest(plan: dict, recipe: dict, engine, out: Path, n_kept: int) -> dict:
    """The manifest of a partitioned selection: the recipe, the rule, the data, the engine and the counts."""
    from core import __version__

    data: PartitionedData = plan["data"]
    record = Path(recipe["scores"]) / "_workbench_scores.json"
    return {
        "version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kind": MANIFEST_KIND, "strategy": recipe["strategy"], "keep": recipe["keep"],
        "threshold": recipe["threshold"], "seed": int(recipe["seed"]), "n_input": data.n_samples,
        "n_kept": int(n_kept), "rule": rule_of(plan),
        "data_fingerprint": data.fingerprint, "partitions": len(data.partitions),
        "columns": {"label": data.label, "id": data.id, "features": list(data.features)},
        "engine": dict(engine.description),
        "sample": dict(recipe["sample"]) if recipe["sample"] is not None else None,
        "kept_rows": str(out), "kept_ids": {"dataset": str(out), "column": data.id or "row position"},
        "scores": str(recipe["scores"]), "scores_fingerprint": recipe["scores_fingerprint"],
        "scorers": json.loads(record.read_text()).get("scorers", []) if record.is_file() else [],
    }
