"""A Parquet dataset read as partitions: a folder (or glob) of Parquet files, one partition per file.

Data that outgrow one process are never read whole. :func:`open_partitioned` reads the label
column and hashes the bytes of each file for one summary per partition (row count, label counts,
SHA-256), which a distributed engine can compute on its workers (pass its ``map``). Features go,
partition by partition, into a **feature store**: a float32 ``.npy`` file that every process opens memory-mapped
(:func:`create_store`, :func:`fill_store`, :func:`open_store`), so a scorer reads the rows it needs
through the page cache instead of holding a copy. The store's folder must be visible to every
worker (a shared disk on a cluster, like the Parquet input itself).

Per-row random draws (:func:`row_uniforms`) are a hash of the seed and the row's global position,
so a sample drawn partition by partition on a cluster is the same sample a single process draws.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from core.data.dataset import Dataset
from core.foundation.errors import ConfigError, DataFileError, LabelError

_STORE_FEATURES = "features.npy"
_STORE_LABELS = "labels.npy"


@dataclass(frozen=True)
class Partition:
    """One Parquet file of a partitioned dataset: where it is and which global rows it holds."""

    path: str
    start: int
    rows: int

    @property
    def stop(self) -> int:
        return self.start + self.rows


@dataclass(frozen=True)
class PartitionedData:
    """A partitioned Parquet dataset: its partitions, columns, classes and fingerprint.

    Attributes
    ----------
    partitions : tuple of Partition
        In sorted path order; global row positions run through them in that order.
    label, id : str, str or None
        Label and id columns (ids default to global row positions).
    features : tuple of str
        Numeric feature columns.
    classes : ndarray of shape (n_classes,)
        Sorted label values seen in any partition.
    class_counts : ndarray of shape (n_classes,), int64
    fingerprint : str
        SHA-256 over every file's name and bytes and the column choice (an edited value changes it).
    """

    partitions: tuple
    label: str
    id: Optional[str]
    features: tuple
    classes: np.ndarray
    class_counts: np.ndarray
    fingerprint: str

    @property
    def n_samples(self) -> int:
        return int(sum(p.rows for p in self.partitions))

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_classes(self) -> int:
        return int(len(self.classes))


def partition_files(source) -> list:
    """The Parquet files of ``source`` (a folder, searched recursively, a glob, or one file), sorted."""
    text = str(source)
    if any(ch in text for ch in "*?["):
        files = sorted(glob.glob(text, recursive=True))
    elif Path(text).is_dir():
        files = sorted(str(p) for p in Path(text).rglob("*") if p.suffix in (".parquet", ".pq") and p.is_file())
    elif Path(text).is_file():
        files = [text]
    else:
        raise DataFileError(f"{text}: no such file or folder; give a Parquet file, a folder of them or a glob.")
    files = [f for f in files if Path(f).is_file() and not Path(f).name.startswith(("_", "."))]
    if not files:
        raise DataFileError(f"{text}: no Parquet files found; give a folder of .parquet files or a glob such "
                            "as 'data/*.parquet'.")
    return files


def summarize_partition(path: str, label: str) -> dict:
    """Row count and label counts of one file (runs on a worker; returns a small dict)."""
    import pyarrow.parquet as pq

    try:
        labels = pq.read_table(path, columns=[label], memory_map=True).column(label).to_pandas()
    except (OSError, ValueError, KeyError) as err:
        raise DataFileError(f"{path}: cannot read label column {label!r} ({err}); check --label.") from err
    if labels.isna().any():
        raise LabelError(f"{path}: {int(labels.isna().sum())} rows have no label; drop them or fill the "
                         f"label column {label!r}.")
    counts = labels.value_counts()
    return {"path": path, "rows": int(len(labels)), "labels": {k: int(v) for k, v in counts.items()},
            "sha256": _file_digest(path), "columns": list(pq.read_schema(path).names)}


def _feature_columns(path: str, label: str, id: Optional[str], features: Optional[Sequence[str]]) -> tuple:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    names = list(schema.names)
    for column, option in ((label, "--label"), (id, "--id")):
        if column is not None and column not in names:
            raise ConfigError(f"{path} has no column {column!r} ({option}); its columns are {names[:20]}.")
    if features:
        missing = [f for f in features if f not in names]
        if missing:
            raise ConfigError(f"{path} has no feature columns {missing}; its columns are {names[:20]}.")
        return tuple(features)
    chosen = tuple(f.name for f in schema if f.name not in (label, id) and f.name != "__index_level_0__"
                   and (pa.types.is_floating(f.type) or pa.types.is_integer(f.type)))
    if not chosen:
        raise ConfigError(f"{path} has no numeric feature columns besides {label!r}; partitioned data need "
                          "numeric features (embeddings), one column each.")
    return chosen


def _file_digest(path: str) -> str:
    """SHA-256 of the file's bytes with its name: any edited value changes the fingerprint.

    Read in 8 MiB blocks on the worker that summarises the partition (about a second per GB).
    """
    digest = hashlib.sha256(Path(path).name.encode() + b"|")
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(8 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_partitioned(source, *, label: str = "label", id: Optional[str] = None,
                     features: Optional[Sequence[str]] = None, map: Optional[Callable] = None) -> PartitionedData:
    """Describe a partitioned Parquet dataset without reading its features.

    Parameters
    ----------
    source : str or Path
        A folder (searched recursively for ``.parquet``), a glob, or a single file.
    label, id : str
        Label and (optional) id columns.
    features : list of str, optional
        Numeric feature columns (default: every integer or float column except label and id).
    map : callable ``map(function, items) -> list``, optional
        Runs the per-file summaries (a distributed engine passes its own); default: in this process.
    """
    files = partition_files(source)
    columns = _feature_columns(files[0], label, id, features)
    map = map or (lambda function, items: [function(item) for item in items])
    summaries = map(_summarize_for_map, [(path, label) for path in files])
    _check_same_columns(summaries, list(columns) + ([id] if id else []), files[0])
    classes = np.array(sorted({k for s in summaries for k in s["labels"]}, key=lambda v: (str(type(v)), v)),
                       dtype=object)
    counts = np.array([sum(s["labels"].get(c, 0) for s in summaries) for c in classes], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum([s["rows"] for s in summaries])]).astype(np.int64)
    partitions = tuple(Partition(s["path"], int(start), int(s["rows"])) for s, start in zip(summaries, starts))
    digest = hashlib.sha256(repr((label, id, columns)).encode())
    for summary in summaries:
        digest.update(summary["sha256"].encode())
    return PartitionedData(partitions, label, id, columns, classes, counts, digest.hexdigest())


def _check_same_columns(summaries, needed: list, first) -> None:
    """DataFileError naming the first partition that lacks a column the first file has (the data's columns)."""
    for summary in summaries:
        missing = [c for c in needed if c not in set(summary["columns"])]
        if missing:
            raise DataFileError(f"{summary['path']} has no column(s) {missing[:5]} that {first} has: every "
                                "partition needs the same columns. Move files of other data out of the folder.")


def _summarize_for_map(item) -> dict:
    return summarize_partition(*item)


def read_partition(data: PartitionedData, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids, label codes and float32 features of one partition.

    Returns
    -------
    ids : ndarray of shape (rows,), object (the id column, or global row positions)
    y : ndarray of shape (rows,), int64 codes into ``data.classes``
    X : ndarray of shape (rows, n_features), float32
    """
    import pyarrow.parquet as pq

    part = data.partitions[index]
    wanted = list(data.features) + [data.label] + ([data.id] if data.id else [])
    table = pq.read_table(part.path, columns=wanted, memory_map=True)
    if table.num_rows != part.rows:
        raise DataFileError(f"{part.path} changed while it was being read; run the command again.")
    X = np.empty((part.rows, len(data.features)), dtype=np.float32)
    for position, name in enumerate(data.features):
        column = table.column(name)
        if column.null_count:
            raise DataFileError(f"{part.path}: feature column {name!r} has {column.null_count} missing values; "
                                "fill them before scoring partitioned data.")
        X[:, position] = column.to_numpy()
    if not np.isfinite(X).all():
        raise DataFileError(f"{part.path}: features hold infinite values; replace them before scoring.")
    labels = table.column(data.label).to_pandas()
    lookup = pd.Index(data.classes)
    y = lookup.get_indexer(pd.Index(labels.to_numpy(dtype=object)))
    if (y < 0).any():
        raise DataFileError(f"{part.path} changed while it was being read; run the command again.")
    ids = (table.column(data.id).to_pandas().to_numpy(dtype=object) if data.id
           else np.arange(part.start, part.stop).astype(object))
    return ids, y.astype(np.int64), X


def create_store(data: PartitionedData, folder) -> Path:
    """Allocate the feature store of ``data`` in ``folder`` (float32 features, int32 label codes)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.lib.format.open_memmap(folder / _STORE_FEATURES, mode="w+", dtype=np.float32,
                              shape=(data.n_samples, data.n_features)).flush()
    np.lib.format.open_memmap(folder / _STORE_LABELS, mode="w+", dtype=np.int32, shape=(data.n_samples,)).flush()
    return folder


def fill_store(data: PartitionedData, index: int, folder) -> int:
    """Write one partition's features and label codes into its rows of the store; returns its row count."""
    _, y, X = read_partition(data, index)
    part = data.partitions[index]
    features = np.load(Path(folder) / _STORE_FEATURES, mmap_mode="r+")
    labels = np.load(Path(folder) / _STORE_LABELS, mmap_mode="r+")
    features[part.start:part.stop] = X
    labels[part.start:part.stop] = y
    features.flush()
    labels.flush()
    return part.rows


def open_store(folder) -> tuple[np.ndarray, np.ndarray]:
    """The store's features (memory-mapped, read-only, (n, d) float32) and label codes ((n,) int32)."""
    folder = Path(folder)
    return np.load(folder / _STORE_FEATURES, mmap_mode="r"), np.load(folder / _STORE_LABELS, mmap_mode="r")


def load_partitioned(source, *, store, label: str = "label", id: Optional[str] = None,
                     features: Optional[Sequence[str]] = None, progress=None) -> Dataset:
    """A :class:`Dataset` over a partitioned Parquet dataset whose features stay memory-mapped.

    For one machine: the partitions are written into the feature store in ``store`` one at a
    time, and the Dataset's ``X`` is the read-only memory map of it (no copy in memory). Its
    ``frame`` holds only the ids and labels, so exports of the full rows read the Parquet files.
    """
    data = open_partitioned(source, label=label, id=id, features=features)
    create_store(data, store)
    ids = []
    for index in range(len(data.partitions)):
        fill_store(data, index, store)
        ids.append(read_partition_ids(data, index))
        if progress is not None:
            progress(index + 1, len(data.partitions), f"feature store: partition {index + 1}/{len(data.partitions)}")
    X, y = open_store(store)
    ids = np.concatenate(ids)
    frame = pd.DataFrame({"id": ids, data.label: data.classes[np.asarray(y)]})
    return Dataset(frame=frame, ids=ids, y=np.asarray(y, dtype=np.int64), classes=data.classes, X=X,
                   feature_names=list(data.features), label_column=data.label, id_column=data.id,
                   kind="embedding", fingerprint=data.fingerprint, settings={"partitioned": True},
                   source=str(source))


def read_partition_ids(data: PartitionedData, index: int) -> np.ndarray:
    """The ids of one partition (the id column, or global row positions), object dtype."""
    import pyarrow.parquet as pq

    part = data.partitions[index]
    if not data.id:
        return np.arange(part.start, part.stop).astype(object)
    return pq.read_table(part.path, columns=[data.id]).column(data.id).to_pandas().to_numpy(dtype=object)


def row_uniforms(seed: int, positions: np.ndarray, stream: int) -> np.ndarray:
    """One uniform draw in [0, 1) per global row position, the same however rows are partitioned.

    A SplitMix64 hash of ``(seed, stream, position)``: counter-based, so a worker draws for its
    rows exactly what a single process draws for the same rows.
    """
    with np.errstate(over="ignore"):
        z = np.asarray(positions, dtype=np.uint64) + np.uint64((int(seed) * 0x9E3779B1 + int(stream) * 0x85EBCA77)
                                                              % 2**64)
        z = (z + np.uint64(0x9E3779B97F4A7C15))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def is_partitioned(source) -> bool:
    """Whether ``source`` names a partitioned Parquet dataset: a glob, or a folder holding Parquet files."""
    text = str(source)
    if any(ch in text for ch in "*?["):
        return True
    folder = Path(text)
    return folder.is_dir() and any(p.suffix in (".parquet", ".pq") for p in folder.rglob("*"))


def sample_partitions(source, *, scores=None, rows: int = 50_000, label: str = "label",
                      id: Optional[str] = None, features: Optional[Sequence[str]] = None, seed: int = 0,
                      min_per_class: int = 50):
    """A stratified sample of a partitioned dataset, with its scores, small enough for the app.

    Every class is sampled at the rate ``rows / n`` (at least ``min_per_class`` rows of a small
    class) by a per-row hash draw (:func:`row_uniforms`), reading one partition at a time.

    Parameters
    ----------
    source : str or Path
        The partitioned data (folder or glob).
    scores : str or Path, optional
        The scores folder ``workbench score`` wrote for ``source`` (same partitions, same rows).
    rows : int
        About how many rows to keep.

    Returns
    -------
    ds : Dataset
        The sampled rows with all original columns (``frame``), features and labels;
        ``ds.settings["sample"]`` says what was sampled.
    scores : DataFrame or None
        Their scores, indexed by id.
    sample : dict
        ``{"rows", "of", "seed", "stratified", "source"}`` for a manifest.
    """
    import pyarrow.parquet as pq

    data = open_partitioned(source, label=label, id=id, features=features)
    score_files = partition_files(scores) if scores is not None else None
    if score_files is not None and len(score_files) != len(data.partitions):
        raise DataFileError(f"{scores} has {len(score_files)} partitions but {source} has {len(data.partitions)}; "
                            "pass the scores written for this data.")
    counts = np.maximum(data.class_counts.astype(np.float64), 1.0)
    rates = np.minimum(1.0, np.maximum(rows / max(data.n_samples, 1), min_per_class / counts))
    frames, features_kept, labels_kept, ids_kept, score_frames = [], [], [], [], []
    for index, part in enumerate(data.partitions):
        ids, y, X = read_partition(data, index)
        keep = row_uniforms(seed, np.arange(part.start, part.stop), 5) < rates[y]
        frames.append(pq.read_table(part.path).to_pandas().iloc[np.flatnonzero(keep)])
        features_kept.append(X[keep]), labels_kept.append(y[keep]), ids_kept.append(ids[keep])
        if score_files is not None:
            score_frames.append(pq.read_table(score_files[index]).to_pandas().iloc[np.flatnonzero(keep)])
    frame = pd.concat(frames, ignore_index=True)
    y = np.concatenate(labels_kept)
    ids = np.concatenate(ids_kept)
    sample = {"rows": int(len(y)), "of": data.n_samples, "seed": int(seed), "stratified": True,
              "source": str(source), "data_fingerprint": data.fingerprint}
    digest = hashlib.sha256(f"{data.fingerprint}|sample|{rows}|{seed}|{min_per_class}".encode()).hexdigest()
    ds = Dataset(frame=frame, ids=ids, y=y, classes=data.classes, X=np.concatenate(features_kept),
                 feature_names=list(data.features), label_column=data.label, id_column=data.id, kind="embedding",
                 fingerprint=digest, settings={"sample": sample}, source=str(source))
    table = None
    if score_files is not None:
        table = pd.concat(score_frames, ignore_index=True).drop(columns=["label"], errors="ignore").set_index("id")
    return ds, table, sample
