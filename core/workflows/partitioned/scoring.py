"""Score a partitioned Parquet dataset partition by partition, on one machine or a Dask cluster.

:func:`score_partitioned` is what ``workbench score DATA_FOLDER --out SCORES_FOLDER`` runs when the
data are a folder (or glob) of Parquet files. The stages (each a map over partitions, with small
summaries reduced on the driver in between):

1. describe the data (row and label counts per partition) and fill the memory-mapped feature store;
2. draw the bounded samples (:func:`core.scorers.oof.fit_sample_mask`): fit the out-of-fold models
   (stratified sample, every row predicted by the model of its own fold), the prototypes and, for the
   inverted file, the centroids of the shared neighbour index;
3. build the shared neighbour graph: by NN-descent (:mod:`core.scorers.partitioned.descent`), or with the
   inverted file (:mod:`core.scorers.partitioned.graph`);
4. each scorer's partitioned half (:mod:`core.scorers.partitioned`, declared beside its scorer)
   reduces its global statistics from per-partition summaries, then gives its columns of every
   partition, written as one scores file per partition.

The driver never holds anything that grows with the rows, except the near-duplicate edges (which
grow with the duplicates). The scratch folder must be on a disk every worker sees.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from core.data.partitions import (PartitionedData, create_store, fill_store, open_partitioned, open_store,
                                  partition_files, read_partition_ids, row_uniforms)
from core.data.partitions import sample_partitions
from core.foundation.cluster_index import ClusterIndex, default_clusters, fit_cluster_index
from core.foundation.neighbors import CALIBRATION_QUERIES, PROBE_STEPS, RECALL_TARGET
from core.foundation.encoding import to_jsonable
from core.outputs.files import staging_folder
from core.foundation.errors import ConfigError, DataFileError, LabelError
from core.foundation.progress import report
from core.foundation.seeds import rng
from core.scorers import resolve_scorers
from core.scorers.oof import fit_sample_mask, row_folds
from core.scorers.partitioned import ScoreState, partitioned_half, partitioned_scorers
from core.scorers.partitioned import descent
from core.scorers.partitioned import graph as shared_graph
from core.scorers.table import RECORDS_KEY, make_records
from core.workflows.partitioned.engine import SerialEngine

#: Name of the file beside the scores partitions that records how they were made.
SCORES_RECORD = "_workbench_scores.json"
#: How the shared neighbour graph is searched: NN-descent (``"nndescent"``, :mod:`core.scorers.partitioned.descent`) or
#: the inverted file (``"ivf"``, :mod:`core.scorers.partitioned.graph`). ``"auto"``: the inverted file up to
#: :data:`DESCENT_FROM` rows (or whenever its ``clusters`` or ``probes`` are given), NN-descent above.
PARTITIONED_SEARCHES = ("auto", "nndescent", "ivf")
#: Above this many rows ``"auto"`` builds the graph by NN-descent. Measured on 2 workers (``benchmarks/scale.py
#: --mode cluster``, 128 features of 16 latent dimensions, the same quiet hour): graph stage 2.7 / 14.7 / 88.0 s
#: with the inverted file at 100k / 300k / 1M rows (its cost grows as n^1.5), 5.3 / 20.5 / 91.7 s by NN-descent
#: (n^1.2); at 5M x 64 the whole score took 643 s by NN-descent, 1,026 s with the inverted file (the same day).
DESCENT_FROM = 1_000_000


def partitioned_search(search: str, clusters: Optional[int], probes: Optional[int], n_samples: int) -> str:
    """The method ``search`` stands for on ``n_samples`` rows: ``"nndescent"`` or ``"ivf"``."""
    if search not in PARTITIONED_SEARCHES:
        raise ConfigError(f"Unknown neighbour search {search!r}; choose one of {', '.join(PARTITIONED_SEARCHES)}.")
    if search == "auto":
        inverted = clusters is not None or probes is not None or n_samples <= DESCENT_FROM
        return "ivf" if inverted else "nndescent"
    return search


def _fill(index: int, data: PartitionedData, scratch: str) -> int:
    return fill_store(data, index, scratch)


def _sample_task(index: int, data: PartitionedData, scratch: str, fit_rows: int, index_rows: int, seed: int,
                 folds: int) -> dict:
    part = data.partitions[index]
    X, labels = open_store(scratch)
    positions = np.arange(part.start, part.stop)
    y = np.asarray(labels[part.start:part.stop], dtype=np.int64)
    fit = fit_sample_mask(y, positions, data.class_counts, fit_rows, seed)
    for_index = row_uniforms(seed, positions, 3) < index_rows / max(data.n_samples, 1)
    rows = X[part.start:part.stop]
    return {"fit_X": np.asarray(rows[fit]), "fit_y": y[fit], "fit_fold": row_folds(positions[fit], folds, seed),
            "index_X": np.asarray(rows[for_index])}


def _check(data: PartitionedData, scorers) -> dict:
    params = {}
    for scorer in scorers:
        half = partitioned_half(scorer.name)
        if half is None:
            raise ConfigError(f"Scorer {scorer.name!r} does not run on partitioned data yet; choose among "
                              f"{', '.join(partitioned_scorers())} (the scorers with a partitioned half).")
        problem = half.check(scorer) if half.check else None
        if problem:
            raise ConfigError(problem)
        params[scorer.name] = scorer.get_params()
    if data.n_samples < 4:
        raise ConfigError(f"Scoring needs at least 4 rows; this data set has {data.n_samples}.")
    if data.n_classes < 2 and any(s.needs_labels for s in scorers):
        raise LabelError("label_noise and knn_shapley need at least two classes; check --label.")
    return params


def _halves(state: ScoreState) -> list:
    return [partitioned_half(name) for name in state.params]


def _neighbors_needed(scorers) -> int:
    return max([int(s.needs().get("neighbors", 0)) for s in scorers] + [1])


def _fit_globals(engine, state: ScoreState, *, fit_rows: int, index_rows: int, clusters: Optional[int],
                 probes: Optional[int], search: str) -> dict:
    data = state.data
    samples = engine.map(_sample_task, range(len(data.partitions)), data, state.scratch, fit_rows,
                         index_rows if search == "ivf" else 0, state.seed, state.folds)
    sample = {key: np.concatenate([s[f"fit_{key}"] for s in samples]) for key in ("X", "y", "fold")}
    for half in _halves(state):
        if half.fit is not None:
            half.fit(state, sample)
    if search != "ivf":
        return {"index": None, "fit_rows": int(len(sample["y"]))}
    index_X = np.concatenate([s["index_X"] for s in samples])
    index = fit_cluster_index(index_X if len(index_X) >= 2 else sample["X"],
                              clusters or default_clusters(data.n_samples), probes or 1, state.seed)
    return {"index": index, "fit_rows": int(len(sample["y"]))}


def _build_graph(engine, state: ScoreState, index: ClusterIndex, k: int, probes: Optional[int],
                 target_recall: float, calibration: Optional[tuple] = None) -> ClusterIndex:
    """Build the shared graph; returns the index with the probes searched: ``probes``, or when None the
    fewest that reach ``target_recall`` on ``calibration`` = (sampled rows, their exact neighbours)."""
    data, scratch = state.data, state.scratch
    parts = range(len(data.partitions))
    n = data.n_samples
    shared_graph.allocate(scratch, (n,), np.int32, shared_graph.HOMES)
    counts = np.stack(engine.map(shared_graph.assign_task, parts, data, scratch, index.centroids))
    bounds, slots = shared_graph.list_slots(counts)
    shared_graph.allocate(scratch, (n, data.n_features), np.float32, shared_graph.LIST_FEATURES)
    shared_graph.allocate(scratch, (n,), np.int64, shared_graph.LIST_IDS)
    engine.map(_place, parts, data, scratch, slots)
    if probes is None:
        queries, exact = calibration
        probes = shared_graph.probes_reaching_recall(scratch, bounds, index.centroids, queries, exact,
                                                     target_recall, PROBE_STEPS)
    index = ClusterIndex(index.centroids, int(max(1, min(probes, index.clusters))))
    shared_graph.allocate(scratch, (n, k), np.int64, shared_graph.GRAPH_INDICES)
    shared_graph.allocate(scratch, (n, k), np.float32, shared_graph.GRAPH_DISTANCES)
    engine.map(shared_graph.search_task, parts, data, scratch, bounds, k, index.centroids, index.probes)
    return index


def _sampled_exact(engine, state: ScoreState, k: int, calibrate: bool, recall_queries: int) -> tuple:
    """Exact neighbours of the probe-calibration rows and of the recall-check rows (two seed streams),
    found in one brute-force pass over the partitions: ((rows, exact) or None, (rows, exact) or None)."""
    n, seed = state.data.n_samples, state.seed
    calibration = (np.sort(rng(seed, "probe-calibration").choice(n, size=min(CALIBRATION_QUERIES, n), replace=False))
                   if calibrate else np.empty(0, np.int64))
    check = np.sort(rng(seed, "recall-queries").choice(n, size=min(int(recall_queries), n), replace=False))
    rows = np.union1d(calibration, check)
    if not len(rows):
        return None, None
    exact = shared_graph.exact_neighbours(engine, state.data, state.scratch, rows, k)

    def pick(wanted):
        return (wanted, exact[np.searchsorted(rows, wanted)]) if len(wanted) else None

    return pick(calibration), pick(check)


def _place(index: int, data: PartitionedData, scratch: str, slots: np.ndarray) -> int:
    return shared_graph.place_task(index, data, scratch, slots[index])


def _global_statistics(engine, state: ScoreState) -> None:
    for half in _halves(state):
        if half.reduce is not None:
            half.reduce(engine, state)


def _write_task(index: int, state: ScoreState, folder: str, names: list) -> dict:
    """Write partition ``index``'s scores file; returns its rows and the seconds each scorer's columns took
    (``"scorers"``) and writing took (``"write"``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = state.data
    part = data.partitions[index]
    columns = {"scores": {}, "flags": {}, "extras": {}}
    seconds = {}
    for name, half in zip(state.params, _halves(state)):
        started = time.perf_counter()
        for key, found in half.columns(index, state).items():
            columns[key].update(found)
        seconds[name] = time.perf_counter() - started
    started = time.perf_counter()
    _, labels = open_store(state.scratch)
    table = {"id": read_partition_ids(data, index),
             "label": data.classes[np.asarray(labels[part.start:part.stop], dtype=np.int64)]}
    table.update({name: columns["scores"][name] for name in names if name in columns["scores"]})
    table.update({flag: values for flag, values in columns["flags"].items()})
    table.update(columns["extras"])
    frame = pd.DataFrame({key: (np.asarray(v, dtype=object) if key in ("id", "label") else v)
                          for key, v in table.items()})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False),
                   Path(folder) / f"part-{index:05d}.parquet")
    return {"rows": part.rows, "scorers": seconds, "write": time.perf_counter() - started}


@contextmanager
def _timed(stages: dict, name: str):
    """Add the wall seconds of the ``with`` block to ``stages[name]``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - started


def _timings(stages: dict, written: list) -> dict:
    """The run's timings: wall seconds of each stage on the driver, and the seconds each scorer's columns
    and the writing took summed over the partition tasks (task seconds: with N workers, about N x wall)."""
    scorers = {}
    for task in written:
        for name, value in task["scorers"].items():
            scorers[name] = scorers.get(name, 0.0) + value
    return {"stages_wall_seconds": {k: round(v, 3) for k, v in stages.items()},
            "scorer_task_seconds": {k: round(v, 3) for k, v in scorers.items()},
            "write_task_seconds": round(sum(task["write"] for task in written), 3),
            "note": "wall seconds of this run on its machine and load; not part of the scores"}


def score_partitioned(source, out, *, label: str = "label", id: Optional[str] = None, features=None,
                      names="default", seed: int = 0, folds: int = 5, engine=None, scratch=None,
                      fit_rows: int = 200_000, index_rows: int = 50_000, clusters: Optional[int] = None,
                      probes: Optional[int] = None, target_recall: float = RECALL_TARGET,
                      recall_queries: int = 200, search: str = "auto", progress=None) -> dict:
    """Score every row of a partitioned Parquet dataset; write the scores as a partitioned dataset.

    Parameters
    ----------
    source : str or Path
        A folder of Parquet files, a glob or one file (:func:`core.data.partitions.open_partitioned`).
    out : str or Path
        Folder to create; gets ``part-00000.parquet``... (one per input partition, same row order:
        ``id``, ``label``, one column per scorer, ``<name>_flag``, ``duplicate_group``) and
        ``_workbench_scores.json`` (the scorer records, the engine, the samples and the index).
    names : "default" or list of str
        Scorers; the default set runs on partitions.
    engine : SerialEngine or DaskEngine, optional
        Where partition tasks run (default: in this process).
    scratch : str or Path, optional
        Parent of the temporary folder of shared files (default: beside ``out``); removed at the end.
    fit_rows : int
        Size of the stratified sample the out-of-fold models and prototypes are fitted on.
    search : {"auto", "nndescent", "ivf"}
        How the shared neighbour graph is found (:data:`PARTITIONED_SEARCHES`): NN-descent, whose rounds stop at the
        first whose recall@10 on 300 sampled rows (exact neighbours by brute force) reaches ``target_recall``,
        or the inverted file. ``"auto"``: the inverted file up to :data:`DESCENT_FROM` rows or when ``clusters``
        or ``probes`` is given, NN-descent above.
    index_rows, clusters : int
        The inverted file: sample the index centroids are fitted on, and lists of the index.
    probes : int, optional
        Lists each row searches (``probes >= clusters`` makes the neighbour search exact). Default:
        the fewest that reach ``target_recall`` (recall@10) on 300 sampled rows whose exact
        neighbours are found by brute force, as on one machine; recorded with the target.
    recall_queries : int
        About this many sampled rows get their exact neighbours by brute force over every
        partition; the graph's recall@10 on them is recorded (0 skips the check).

    Returns
    -------
    dict
        The record written to ``_workbench_scores.json``.
    """
    engine = engine or SerialEngine()
    out = Path(out)
    if out.exists():
        raise ConfigError(f"{out} already exists; choose a new folder for the scores (nothing was written).")
    scorers = resolve_scorers(names)
    stages = {}
    report(progress, 0, 8, "reading partition summaries")
    with _timed(stages, "partition summaries"):
        data = open_partitioned(source, label=label, id=id, features=features, map=engine.map)
    params = _check(data, scorers)
    search = partitioned_search(search, clusters, probes, data.n_samples)
    work = Path(tempfile.mkdtemp(prefix="workbench-scratch-", dir=scratch or out.parent))
    staging = staging_folder(out)
    try:
        state = ScoreState(data, str(work), params, int(seed), int(folds))
        with _timed(stages, "feature store"):
            create_store(data, work)
            engine.map(_fill, range(len(data.partitions)), data, str(work))
        report(progress, 1, 8, f"feature store filled: {data.n_samples:,} rows in {len(data.partitions)} partitions")
        with _timed(stages, "samples, models and centroids"):
            fitted = _fit_globals(engine, state, fit_rows=fit_rows, index_rows=index_rows, clusters=clusters,
                                  probes=probes, search=search)
        report(progress, 3, 8, "models and prototypes fitted on samples")
        k = min(_neighbors_needed(scorers), data.n_samples - 1)
        with _timed(stages, "exact neighbours of the calibration and check rows"):
            calibration, check = _sampled_exact(engine, state, min(10, k), search != "ivf" or probes is None,
                                                recall_queries)
        with _timed(stages, "neighbour graph"):
            if search == "ivf":
                fitted["index"] = _build_graph(engine, state, fitted["index"], k, probes, target_recall, calibration)
                fitted["probes_chosen_for_recall"] = None if probes is not None else float(target_recall)
            else:
                fitted["descent"], stages_graph = descent.build(
                    engine, data, str(work), k, calibration, target_recall, state.seed,
                    lambda done, recall: report(progress, 4, 8, f"neighbour graph: round {done} of NN-descent, "
                                                                f"recall@10 {recall} on the calibration rows"))
                fitted["descent"]["rounds_chosen_for_recall"] = float(target_recall)
                stages.update({f"neighbour graph: {name}": value for name, value in stages_graph.items()})
        with _timed(stages, "recall check"):
            fitted["recall"] = shared_graph.graph_recall(str(work), *check) if check is not None else None
        report(progress, 5, 8, f"neighbour graph: {k} neighbours per row")
        with _timed(stages, "global statistics"):
            _global_statistics(engine, state)
        report(progress, 7, 8, "global statistics reduced")
        with _timed(stages, "scores of every partition, written"):
            written = engine.map(_write_task, range(len(data.partitions)), state, str(staging),
                                 [s.name for s in scorers])
        record = _record(data, scorers, state, fitted, engine, seed, folds, k)
        record["timings"] = _timings(stages, written)
        (staging / SCORES_RECORD).write_text(json.dumps(to_jsonable(record), indent=2) + "\n")
        staging.rename(out)
        report(progress, 8, 8, f"scores written to {out}")
        return record
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def _neighbors_record(fitted: dict, k: int) -> dict:
    recall = None if fitted.get("recall") is None else round(fitted["recall"], 4)
    if fitted.get("descent") is not None:
        return {"method": "approximate", "search": "nn-descent", "k": int(k), **fitted["descent"],
                "recall_at_10": recall}
    index = fitted["index"]
    return {"method": "exact" if index.probes >= index.clusters else "approximate", "search": "cluster-probe",
            "clusters": index.clusters, "probes": index.probes, "k": int(k),
            **({"probes_chosen_for_recall": fitted["probes_chosen_for_recall"]}
               if fitted.get("probes_chosen_for_recall") is not None else {}),
            "recall_at_10": recall}


def _record(data, scorers, state, fitted, engine, seed, folds, k) -> dict:
    shared = {"neighbors": _neighbors_record(fitted, k),
              "oof": {"fit": "stratified sample", "rows": fitted["fit_rows"], "of": data.n_samples,
                      "apply": "every row by the model of its own fold"}}
    return {"data_fingerprint": data.fingerprint, "n_rows": data.n_samples, "partitions": len(data.partitions),
            "engine": engine.description,
            "scorers": [_with_prototypes(r, fitted) for r in make_records(scorers, seed=seed, folds=folds,
                                                                           model="logreg", shared=shared)]}


def _with_prototypes(record: dict, fitted: dict) -> dict:
    if record["name"] != "prototypicality":
        return record
    return {**record, "prototypes": {"fit": "k-means on the stratified sample", "rows": fitted["fit_rows"]}}


def load_partitioned_sample(source, *, scores=None, rows: int = 50_000, label: str = "label",
                            id: Optional[str] = None, features=None, seed: int = 0, min_per_class: int = 50):
    """A stratified sample of partitioned data with its scores, checked against the scores' record.

    :func:`core.data.partitions.sample_partitions`, plus: the scores folder must be one
    :func:`score_partitioned` wrote for exactly this data and column choice (same partitions, same
    rows, same fingerprint), and the sampled scores carry the scorer records of ``_workbench_scores.json``
    (``core.scorers.scorer_records``), so a manifest made from them lists how they were computed.

    Returns
    -------
    ds : Dataset
    scores : DataFrame or None
        Indexed by id, with the scorer records attached.
    sample : dict
        ``{"rows", "of", "seed", "stratified", "source", "data_fingerprint"}``.
    """
    record = _scores_record(source, scores) if scores is not None else None
    ds, table, sample = sample_partitions(source, scores=scores, rows=rows, label=label, id=id, features=features,
                                          seed=seed, min_per_class=min_per_class)
    if record is None:
        return ds, table, sample
    if record.get("data_fingerprint") != sample["data_fingerprint"]:
        raise DataFileError(f"{scores} holds the scores of other data, or of other label/id/feature columns, than "
                            f"{source} with label {label!r} and id {id!r}; choose the columns the scores were "
                            "computed with, or score this data with `workbench score`.")
    table = table.copy()
    table.attrs[RECORDS_KEY] = [dict(row) for row in record.get("scorers", [])]
    return ds, table, sample


def _scores_record(source, scores) -> dict:
    """The record beside ``scores``, once its partitions match the data's file for file (row counts)."""
    import pyarrow.parquet as pq

    path = Path(scores) / SCORES_RECORD
    if not path.is_file():
        raise DataFileError(f"{scores} has no {SCORES_RECORD}; give the folder `workbench score DATA --out FOLDER` "
                            "wrote for this data.")
    data_files, score_files = partition_files(source), partition_files(scores)
    if len(data_files) != len(score_files):
        raise DataFileError(f"{scores} has {len(score_files)} partitions but {source} has {len(data_files)}; pass "
                            "the scores written for this data.")
    for data_file, score_file in zip(data_files, score_files):
        if pq.ParquetFile(data_file).metadata.num_rows != pq.ParquetFile(score_file).metadata.num_rows:
            raise DataFileError(f"{score_file} and {data_file} hold different numbers of rows; pass the scores "
                                "written for this data.")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataFileError(f"{path} cannot be read ({err}); score the data again.") from err
