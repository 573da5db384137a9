"""The partitioned driver gathers nothing that grows with the rows.

Every partition task's result travels to the driver (``engine.map``); an engine that records the
size of each result shows, for the same 4 partitions at 3,000 and 12,000 rows (bounded fitting and
index samples), that no task hands the driver a per-row array: the largest result of every task
grows by far less than the 4x of the rows. Planted near-duplicates are left out (their edges grow
with the duplicates, which is the stated exception). Also: exact order statistics stay exact when
the bin that holds the wanted rank is split again instead of gathered (heavy ties, near-ties).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.foundation import order_statistics as statistics
from core.workflows import SerialEngine, score_partitioned, select_partitioned

PARTITIONS, FEATURES, CLASSES = 4, 8, 3


def _nbytes(value) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    return 8


class RecordingEngine(SerialEngine):
    """Runs tasks in this process and keeps, per task function, the largest result it returned (bytes)."""

    def __init__(self):
        self.largest: dict[str, int] = {}

    def map(self, function, items, *args) -> list:
        results = super().map(function, items, *args)
        name = getattr(function, "__name__", repr(function))
        self.largest[name] = max([self.largest.get(name, 0)] + [_nbytes(result) for result in results])
        return results


def _write(folder, rows: int) -> None:
    generator = np.random.default_rng(rows)
    centres = generator.normal(size=(CLASSES * 2, FEATURES)) * 3.0
    component = generator.integers(0, len(centres), rows)
    X = (centres[component] + generator.normal(size=(rows, FEATURES))).astype(np.float32)
    y = component % CLASSES
    flipped = generator.random(rows) < 0.05
    y[flipped] = (y[flipped] + 1) % CLASSES
    frame = pd.DataFrame(X, columns=[f"e{i}" for i in range(FEATURES)])
    frame["label"], frame["id"] = y, np.arange(rows)
    folder.mkdir()
    for number, part in enumerate(np.array_split(np.arange(rows), PARTITIONS)):
        frame.iloc[part].to_parquet(folder / f"part-{number}.parquet", index=False)


def _gathered(tmp_path, rows: int, search: str) -> dict:
    data, out = tmp_path / f"data{rows}", tmp_path / f"out{rows}"
    _write(data, rows)
    out.mkdir()
    engine = RecordingEngine()
    graph = {"clusters": 16, "probes": 4} if search == "ivf" else {"search": search}
    score_partitioned(data, out / "scores", label="label", id="id", engine=engine, fit_rows=400, index_rows=400,
                      recall_queries=20, **graph)
    for name, strategy, keep in (("top", "knn_density", 0.3), ("ccs", "ccs:label_noise", 0.3),
                                 ("flags", "drop-flagged:label_noise", None)):
        select_partitioned(data, out / "scores", out / name, out / f"{name}.json", strategy=strategy, keep=keep,
                           label="label", id="id", engine=engine)
    return engine.largest


@pytest.mark.parametrize("search", ["ivf", "nndescent"])
def test_driver_gathers_nothing_per_row(tmp_path, search):
    small, large = _gathered(tmp_path, 3000, search), _gathered(tmp_path, 12000, search)
    assert set(small) == set(large)
    # a per-row array would grow 4x (rows per partition 750 -> 3000: 6 kB -> 24 kB at 8 bytes a row)
    grown = {name: (small[name], large[name]) for name in small if large[name] > 1.5 * small[name] + 4096}
    assert not grown, f"tasks whose results grow with the rows (bytes at 3k, 12k rows): {grown}"
    assert max(large.values()) < 200_000  # the biggest is the bounded fitting sample (~400 rows x 8 features)


def _keys(index: int, arrays: list) -> list:
    return [arrays[index], -arrays[index]]


@pytest.mark.parametrize("gather", [4096, 3])
def test_order_statistics_split_full_bins_and_stay_exact(monkeypatch, gather):
    monkeypatch.setattr(statistics, "_GATHER", gather)
    generator = np.random.default_rng(1)
    arrays = [generator.normal(size=n) for n in (1000, 1, 3000, 640)]
    arrays[2][:400] = np.nan
    arrays[3][:300] = 0.5  # a heavy tie
    arrays[0][:500] = 0.25
    arrays[0][500:700] = 0.25 + 1e-13  # near-ties: one bin until it is split again
    values = np.concatenate(arrays)
    values = np.sort(values[~np.isnan(values)])
    gathered = []
    original = statistics._bin_task

    def recording(index, *args):
        found = original(index, *args)
        gathered.append(max(len(column) for column in found))
        return found

    monkeypatch.setattr(statistics, "_bin_task", recording)
    for rank in list(range(1, len(values) + 1, 37)) + [len(values)]:
        found = statistics.order_statistics(SerialEngine(), 4, _keys, (arrays,), lambda counts: [rank, rank])
        assert found == [values[::-1][rank - 1], -values[rank - 1]]
    assert statistics.medians(SerialEngine(), 4, _keys, (arrays,))[0] == np.median(values)
    if gather == 3:  # with a tiny gather limit no partition ever sends more than 3 values of a key
        assert max(gathered) <= 3
