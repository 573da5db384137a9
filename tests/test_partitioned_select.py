"""Partitioned selection: the manifest records the sample and the engine, ``apply`` re-runs a partitioned
manifest exactly, and ``ccs:<scorer>`` runs from per-partition summaries with the in-memory allocation.

The data and their scores are generated (no scoring run): 3 partitions of unequal size, a continuous
score, a score with ties and NaN, and a flag column, so each test checks the rule, not a scorer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core
from core.data.partitions import load_partitioned
from core.foundation.errors import WorkbenchError
from core.workflows import SerialEngine, load_partitioned_sample, select_partitioned

ROWS, FEATURES = 3000, 4
SIZES = (1300, 1000, 700)


def _write_parts(frame: pd.DataFrame, folder: Path) -> Path:
    folder.mkdir(parents=True)
    start = 0
    for number, size in enumerate(SIZES):
        frame.iloc[start:start + size].to_parquet(folder / f"part-{number}.parquet", index=False)
        start += size
    return folder


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A partitioned dataset and a matching scores folder (id, label, scores, a flag)."""
    root = tmp_path_factory.mktemp("generated")
    generator = np.random.default_rng(11)
    X = generator.normal(size=(ROWS, FEATURES)).astype(np.float32)
    labels = np.array(["ant", "bee", "cat"])[generator.integers(0, 3, ROWS)]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(FEATURES)])
    frame["label"] = labels
    frame["note"] = [f"row {i}" for i in range(ROWS)]  # a non-feature column the kept rows must carry
    frame["rid"] = [f"r{i:05d}" for i in range(ROWS)]
    data = _write_parts(frame, root / "data")
    el2n = generator.gamma(2.0, 1.0, ROWS)
    el2n[generator.choice(ROWS, 25, replace=False)] = np.nan
    density = np.round(generator.normal(size=ROWS), 1)  # many ties
    scores = pd.DataFrame({"id": frame["rid"], "label": labels, "el2n": el2n, "knn_density": density,
                           "label_noise": generator.random(ROWS)})
    scores["label_noise_flag"] = scores["label_noise"] > 0.9
    scores_folder = _write_parts(scores, root / "scores")
    return {"root": root, "data": data, "scores": scores_folder, "frame": frame, "table": scores}


def _select(generated, name: str, engine=None, **options) -> dict:
    root = generated["root"]
    return select_partitioned(generated["data"], generated["scores"], root / f"kept-{name}", root / f"{name}.json",
                              label="label", id="rid", engine=engine or SerialEngine(), **options)


def test_manifest_records_sample_and_engine(generated):
    _, _, sample = load_partitioned_sample(generated["data"], rows=600, label="label", id="rid", seed=3)
    document = _select(generated, "sampled", strategy="el2n", keep=0.25, sample=sample)
    written = json.loads((generated["root"] / "sampled.json").read_text())
    assert written["sample"] == json.loads(json.dumps(sample)) and written["sample"]["of"] == ROWS
    assert written["engine"] == {"engine": "serial", "workers": 1} == document["engine"]
    plain = _select(generated, "unsampled", strategy="el2n", keep=0.25)
    assert plain["sample"] is None
    other = dict(sample, data_fingerprint="0" * 64)
    with pytest.raises(WorkbenchError, match="fingerprints differ"):
        _select(generated, "wrong-sample", strategy="el2n", keep=0.25, sample=other)
    assert not (generated["root"] / "kept-wrong-sample").exists()
