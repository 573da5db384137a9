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
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

from core.data.partitions import PartitionedData, open_partitioned, partition_files, read_partition_ids
from core.foundation.encoding import to_jsonable
from core.foundation.errors import ConfigError, DataFileError
from core.foundation.progress import check_cancelled, report
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


def _write_task(index: int, where: Partitions, rule, folder: str) -> int:
    import pyarrow.parquet as pq

    data: PartitionedData = where.data
    part = data.partitions[index]
    scored_ids = read_scores(where.scores[index], ["id"])["id"].to_numpy(dtype=object)
    if len(scored_ids) != part.rows or not (scored_ids.astype(str) == read_partition_ids(data, index).astype(str)).all():
        raise DataFileError(f"{where.scores[index]} does not hold the scores of {part.path} (ids differ); score "
                            "this data again with `workbench score`.")
    mask = kept_mask(index, where, rule)
    table = pq.read_table(part.path)
    pq.write_table(table.filter(mask), Path(folder) / f"part-{index:05d}.parquet")
    return int(mask.sum())


def write_kept(where: Partitions, rule, out: Path, engine, finish) -> dict:
    """Write every partition's kept rows into a staging folder, then rename it to ``out``.

    ``finish(n_kept) -> dict`` builds the manifest before the rename, so an error leaves nothing.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
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
        Called between the stages (summaries, rule, writing, done).
    cancel : threading.Event, optional
        Checked between the stages; a cancel before the rename leaves nothing written.

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
    report(progress, 0, 4, "reading the partitions (label counts, file hashes)")
    data = open_partitioned(source, label=label, id=id, features=features, map=engine.map)
    check_cancelled(cancel)
    if sample is not None and sample.get("data_fingerprint") not in (None, data.fingerprint):
        raise ConfigError(f"The sample was drawn from other data than {source} (fingerprints differ); tune on a "
                          "sample of this data (load_partitioned_sample) and select again.")
    where = Partitions(data, check_scores(data, scores), int(getattr(strategy, "seed", seed)))
    recipe = Recipe.of(strategy, keep, threshold, where.seed, score_columns=scores_file_columns(where))
    report(progress, 1, 4, f"finding the cut for {recipe.text} over {data.n_samples:,} rows")
    rule = plan_rule(where, recipe, engine)
    fingerprint = scores_fingerprint(scores, engine)
    check_cancelled(cancel)
    report(progress, 2, 4, f"writing the kept rows of {len(data.partitions)} partitions")
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
        document = write_kept(where, rule, out, engine, finish)
        staged.replace(manifest)
    finally:
        staged.unlink(missing_ok=True)
    report(progress, 4, 4, f"kept {document['n_kept']:,} of {data.n_samples:,} rows")
    return document
