"""Select rows of a partitioned Parquet dataset from its partitioned scores, partition by partition.

Every strategy kind that declares a partitioned half (:class:`core.selection.partitioned.PartitionedRule`,
next to its in-memory ``run`` in its own module) runs here: the half *plans* a typed rule from
per-partition summaries (a cut fixed by an exact order statistic, bin counts, class quotas, flags),
then every partition's kept rows are written with all original columns as a partitioned dataset.
The manifest (:func:`core.outputs.manifest.partitioned_manifest`) records the rule, so ``apply``
(:mod:`core.workflows.partitioned.applying`) re-runs it exactly, and points at the kept rows for the
ids (a list of every kept id would grow with the data). The kinds that run in memory only are named
from the registry (:func:`core.selection.partitioned.memory_only_kinds`).
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Optional

import numpy as np

from core.data.partitions import PartitionedData, open_partitioned, partition_files, read_partition_ids
from core.foundation.encoding import to_jsonable
from core.foundation.errors import ConfigError, DataFileError, WorkbenchError
from core.foundation.progress import check_cancelled, report
from core.outputs.files import staging_folder
from core.outputs.manifest import PARTITIONED_KIND, partitioned_manifest
from core.selection import Recipe
from core.selection.partitioned import Partitions, half_of, memory_only_kinds, partitioned_kinds
from core.selection.partitioned.rules import read_scores, scores_file_columns
from core.workflows.partitioned.engine import SerialEngine

MANIFEST_KIND = PARTITIONED_KIND


def _kinds_text() -> str:
    return ", ".join(kind.syntax for kind in partitioned_kinds())


def plan_rule(where: Partitions, recipe: Recipe, engine):
    """The typed rule of ``recipe`` on these partitions, planned by its kind's partitioned half."""
    half = recipe.spec.info.partitioned
    if getattr(recipe.spec, "quota", None):
        raise ConfigError(f"Strategy {recipe.text!r}: class quotas (:quota=) do not run on partitioned data yet; "
                          "use balanced:<scorer|random> (proportional or equal quotas), or tune on a sample "
                          "(load_partitioned_sample).")
    if half is None:
        memory = ", ".join(kind.name for kind in memory_only_kinds())
        raise ConfigError(f"Strategy {recipe.text!r} does not run on partitioned data yet; use {_kinds_text()}. "
                          f"The other kinds ({memory}) run in memory only: tune them on a sample "
                          "(load_partitioned_sample) or load the data on one machine.")
    return half.plan(where, recipe, engine)


def kept_mask(index: int, where: Partitions, rule) -> np.ndarray:
    """The kept rows of partition ``index`` under ``rule``, shape (rows,), bool."""
    return half_of(rule.kind).mask(index, where, rule)


COLUMN_GROUPS = 4  # a partition is read in this many groups of columns (its progress moves after each)
ROW_GROUP_ROWS = 32_768  # kept rows per row group written (its progress moves after each)
# Cost per byte of the data files, relative to the partition summaries (label counts and file hashes): reading a
# partition to write it, and writing it per kept fraction; "plan": per byte of the scores files and pass over
# them. The job's progress counts these, so its time left holds from the first partitions on. Measured
# serially at 1M x 128 float32 in 10 partitions, ccs at keep 0.3 and drop-flagged (90 % kept), busy machine.
COST = {"summaries": 1.0, "read": 1.2, "write": 6.0, "plan": 0.8}
PLAN_PASSES = 16  # passes over the scores a plan makes at most (ccs: 15, a top-k cut: 9, drop-flagged: 1)
_MOVED = threading.local()  # in this process: whom the writing task tells after each group of columns or rows


def _write_task(index: int, where: Partitions, rule, folder: str) -> int:
    """Write partition ``index``'s kept rows, all columns: read in :data:`COLUMN_GROUPS` groups of columns,
    written in row groups of :data:`ROW_GROUP_ROWS` rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data: PartitionedData = where.data
    part = data.partitions[index]
    scored_ids = read_scores(where.scores[index], ["id"])["id"].to_numpy(dtype=object)
    if len(scored_ids) != part.rows or not (scored_ids.astype(str) == read_partition_ids(data, index).astype(str)).all():
        raise DataFileError(f"{where.scores[index]} does not hold the scores of {part.path} (ids differ); score "
                            "this data again with `workbench score`.")
    mask = kept_mask(index, where, rule)
    moved = getattr(_MOVED, "hook", None) or (lambda fraction: None)
    kept = int(mask.sum())
    reading = COST["read"] / (COST["read"] + COST["write"] * kept / max(part.rows, 1))  # of this task's cost
    source = pq.ParquetFile(part.path)
    names, columns = source.schema_arrow.names, []
    step = max(-(-len(names) // COLUMN_GROUPS), 1)
    for first in range(0, len(names), step):
        columns.extend(source.read(columns=names[first:first + step], use_pandas_metadata=False).columns)
        moved(reading * len(names[first:first + step]) / len(names))
    table = pa.Table.from_arrays(columns, schema=source.schema_arrow).filter(pa.array(mask))
    with pq.ParquetWriter(Path(folder) / f"part-{index:05d}.parquet", source.schema_arrow) as writer:
        for first in range(0, max(kept, 1), ROW_GROUP_ROWS):
            writer.write_table(table.slice(first, ROW_GROUP_ROWS), row_group_size=ROW_GROUP_ROWS)
            moved((1 - reading) * min(ROW_GROUP_ROWS, kept - first) / max(kept, 1))
    return kept


class _Meter:
    """The progress of one selection: stages weighted by :data:`COST` per byte (writing: at the recipe's keep
    fraction, else all rows), moved by every finished partition task and, in this process, within the
    writing task."""

    def __init__(self, progress, sizes: list, scores_bytes: int, keep: Optional[float]):
        self.progress, self.sizes, self.lock = progress, [max(s, 1) for s in sizes], threading.Lock()
        data_bytes, kept = max(sum(self.sizes), 1), 1.0 if keep is None else float(keep)  # else: at most all
        self.units = {"summaries": COST["summaries"] * data_bytes, "plan": COST["plan"] * scores_bytes * PLAN_PASSES,
                      "write": (COST["read"] + COST["write"] * kept) * data_bytes}
        self.total, self.done, self.end, self.share, self.message = sum(self.units.values()), 0.0, 0.0, 0.0, ""

    def stage(self, name: str, message: str, passes: int = 1) -> None:
        """Start stage ``name``: the earlier ones are done, and a plan that took fewer passes than its share
        counts as what it took (the total shrinks, so the fraction never goes back); each ``map`` over the
        stage takes 1/passes of it."""
        with self.lock:
            if name == "write":
                self.units["plan"] = max(self.done - self.units["summaries"], 0.0)
            start = {"summaries": 0.0, "plan": self.units["summaries"],
                     "write": self.units["summaries"] + self.units["plan"]}[name]
            self.total = sum(self.units.values())
            self.done = max(self.done, start)
            self.end, self.share, self.message = start + self.units[name], self.units[name] / passes, message
        self._report()

    def add(self, fraction_of_map: float, item: int, count: int) -> None:
        """Item ``item`` of a ``count``-item map moved by ``fraction_of_map`` of its own size."""
        sizes = self.sizes if count == len(self.sizes) else [1] * count
        with self.lock:
            step = self.share * fraction_of_map * sizes[item] / sum(sizes)
            self.done = min(self.done + step, self.end)
        self._report()

    def _report(self) -> None:
        report(self.progress, round(1000 * self.done / self.total), 1000, self.message)


def _sizes(folder) -> list:
    """Bytes of each partition file of ``folder`` ([] where it has none: the readers say what is wrong)."""
    try:
        return [Path(path).stat().st_size for path in partition_files(folder)]
    except (OSError, WorkbenchError):
        return []


class _Counted:
    """An engine that tells a :class:`_Meter` about every finished task (Dask: as each one completes)."""

    def __init__(self, engine, meter: _Meter, cancel=None):
        self.engine, self.meter, self.cancel, self.description = engine, meter, cancel, engine.description

    def map(self, function, items, *args) -> list:
        items, meter = list(items), self.meter
        client = getattr(self.engine, "client", None)
        if client is None and not isinstance(self.engine, SerialEngine):  # another engine: counted per map
            results = self.engine.map(function, items, *args)
            for i in range(len(items)):
                meter.add(1.0, i, len(items))
            return results
        if client is not None:  # a Dask engine: the same tasks, counted as they complete
            from distributed import as_completed

            futures = client.map(function, items, *[[arg] * len(items) for arg in args], pure=False)
            places = {future.key: i for i, future in enumerate(futures)}
            for future in as_completed(futures):
                meter.add(1.0, places[future.key], len(items))
            return client.gather(futures)
        results = []
        for i, item in enumerate(items):
            check_cancelled(self.cancel)  # in this process a cancel stops at the next partition
            moved = [0.0]

            def move(fraction: float, i=i, moved=moved) -> None:
                moved[0] += fraction
                meter.add(fraction, i, len(items))

            _MOVED.hook = move
            try:
                results.append(function(item, *args))
            finally:
                _MOVED.hook = None
            meter.add(max(1.0 - moved[0], 0.0), i, len(items))
        return results


def write_kept(where: Partitions, rule, out: Path, engine, finish) -> dict:
    """Write every partition's kept rows into a staging folder, then rename it to ``out``.

    ``finish(n_kept) -> dict`` builds the manifest before the rename, so an error leaves nothing.
    """
    staging = staging_folder(out)
    try:
        kept = engine.map(_write_task, where.parts, where, rule, str(staging))
        document = finish(int(sum(kept)))
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return document


def scores_fingerprint(scores, engine) -> str:
    """Fingerprint of a scores folder (its files' bytes), so ``apply`` can tell other scores apart."""
    return open_partitioned(scores, label="label", id="id", map=engine.map).fingerprint


def check_scores(data: PartitionedData, scores) -> tuple:
    """The scores files of ``data``: one per data partition, else a DataFileError."""
    scores_files = partition_files(scores)
    if len(scores_files) != len(data.partitions):
        raise DataFileError(f"{scores} has {len(scores_files)} partitions but the data have {len(data.partitions)}; "
                            "pass the scores `workbench score` wrote for this data.")
    return tuple(scores_files)


def select_partitioned(source, scores, out, manifest, *, strategy, keep: Optional[float] = None,
                       threshold: Optional[float] = None, seed: int = 0, label: str = "label",
                       id: Optional[str] = None, features=None, engine=None, sample: Optional[dict] = None,
                       progress=None, cancel=None) -> dict:
    """Select rows of a partitioned dataset and write them (all columns) as a partitioned dataset.

    Parameters
    ----------
    source, scores : str or Path
        The data and the scores :func:`core.workflows.score_partitioned` wrote for them.
    out : str or Path
        New folder for the kept rows (one file per input partition).
    manifest : str or Path
        Where the JSON manifest goes.
    strategy : str or Recipe
        The strategy text (with ``keep``, ``threshold``, ``seed`` as in :func:`core.select`), or a
        :class:`core.selection.Recipe` made once by the caller (then ``keep``/``threshold``/``seed``
        are the recipe's). Its kind must declare a partitioned half (:data:`core.workflows.PARTITIONED_KINDS`).
    engine : SerialEngine or DaskEngine, optional
        Where the partition tasks run; the manifest's ``engine`` records which (``engine``,
        ``workers``, and ``cluster`` for Dask).
    sample : dict, optional
        The sample the recipe was tuned on (the dict :func:`core.data.partitions.sample_partitions`
        returns: ``rows``, ``of``, ``seed``, ``stratified``, ``source``, ``data_fingerprint``); recorded as
        the manifest's ``sample`` (null when the recipe was not tuned on a sample).
    progress : callable ``(done, total, message)``, optional
        Called as every partition task of every stage ends (summaries, rule, writing) and, on the serial
        engine, after every group of columns read and row group written; ``done / total`` is the share of the expected work done
        (stages weighted by :data:`COST`), so it can be extrapolated to a time left.
    cancel : threading.Event, optional
        Checked between the stages and (serial engine) between partition tasks; a cancel before the
        rename leaves nothing written.

    Returns
    -------
    dict
        The manifest.
    """
    import pyarrow.parquet as pq

    engine = engine or SerialEngine()
    out = Path(out)
    if out.exists():
        raise ConfigError(f"{out} already exists; choose a new folder for the kept rows (nothing was written).")
    meter = _Meter(progress, _sizes(source), sum(_sizes(scores)), getattr(strategy, "keep", keep))
    counted = _Counted(engine, meter, cancel)
    meter.stage("summaries", "reading the partitions (label counts, file hashes)")
    data = open_partitioned(source, label=label, id=id, features=features, map=counted.map)
    check_cancelled(cancel)
    if sample is not None and sample.get("data_fingerprint") not in (None, data.fingerprint):
        raise ConfigError(f"The sample was drawn from other data than {source} (fingerprints differ); tune on a "
                          "sample of this data (load_partitioned_sample) and select again.")
    where = Partitions(data, check_scores(data, scores), int(getattr(strategy, "seed", seed)))
    recipe = Recipe.of(strategy, keep, threshold, where.seed, score_columns=scores_file_columns(where))
    meter.stage("plan", f"finding the cut for {recipe.text} over {data.n_samples:,} rows", PLAN_PASSES)
    rule = plan_rule(where, recipe, counted)
    fingerprint = scores_fingerprint(scores, counted)
    check_cancelled(cancel)
    meter.stage("write", f"writing the kept rows of {len(data.partitions)} partitions")
    manifest = Path(manifest)
    staged = manifest.with_name(f".{manifest.name}.partial")
    record = Path(scores) / "_workbench_scores.json"
    scorers = json.loads(record.read_text()).get("scorers", []) if record.is_file() else []

    def finish(n_kept: int) -> dict:  # the manifest is written before the kept rows are published
        document = partitioned_manifest(data, recipe, rule, engine=engine.description, kept_rows=out, n_kept=n_kept,
                                        sample=sample, scores=scores, scores_fingerprint=fingerprint,
                                        scorers=scorers)
        staged.write_text(json.dumps(to_jsonable(document), indent=2) + "\n")
        return document

    try:
        document = write_kept(where, rule, out, counted, finish)
        staged.replace(manifest)
    finally:
        staged.unlink(missing_ok=True)
    report(progress, 1000, 1000, f"kept {document['n_kept']:,} of {data.n_samples:,} rows")
    return document
