"""The partitioned neighbour graph chooses its probes by measured recall, as the one-machine graph does.

A fixed probe count loses recall as the rows grow (more lists, neighbours spread over more of them);
the shared index now searches the fewest lists per row whose recall@10 on sampled rows with exact
neighbours reaches the target, and records the count and the target beside the recall measured on
other rows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.workflows import SerialEngine, score_partitioned
from core.workflows.partitioned.scoring import SCORES_RECORD

ROWS, FEATURES = 6000, 16


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    generator = np.random.default_rng(11)
    centres = generator.normal(size=(12, 8)) * 2.0
    component = generator.integers(0, len(centres), ROWS)
    latent = centres[component] + generator.normal(size=(ROWS, 8))
    X = (latent @ generator.normal(size=(8, FEATURES)) + 0.1 * generator.normal(size=(ROWS, FEATURES)))
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"e{i}" for i in range(FEATURES)])
    frame["label"], frame["id"] = component % 3, np.arange(ROWS)
    folder = tmp_path_factory.mktemp("probes") / "data"
    folder.mkdir()
    for number, part in enumerate(np.array_split(np.arange(ROWS), 3)):
        frame.iloc[part].to_parquet(folder / f"part-{number}.parquet", index=False)
    return folder


def _neighbours(data, out, **options) -> dict:
    score_partitioned(data, out, label="label", id="id", names=["knn_density"], engine=SerialEngine(),
                      fit_rows=2000, index_rows=2000, clusters=200, recall_queries=300, **options)
    record = json.loads((out / SCORES_RECORD).read_text())
    return record["scorers"][0]["neighbors"]


def test_probes_are_chosen_for_the_target_recall(data, tmp_path):
    fixed = _neighbours(data, tmp_path / "fixed", probes=1)
    assert fixed["probes"] == 1 and "probes_chosen_for_recall" not in fixed
    assert fixed["recall_at_10"] < 0.8  # one list of 200 misses many neighbours: the choice has work to do
    chosen = _neighbours(data, tmp_path / "chosen", target_recall=0.99)
    assert chosen["probes_chosen_for_recall"] == 0.99
    assert 6 < chosen["probes"] < 200  # more than the fewest step, fewer than every list (exact)
    assert chosen["recall_at_10"] >= 0.98  # measured on rows the probes were not chosen on
    looser = _neighbours(data, tmp_path / "looser", target_recall=0.6)
    assert looser["probes"] < chosen["probes"] and looser["recall_at_10"] >= 0.6
