"""The scores table's one owner: records that follow the columns, and cache-only lookups."""

from __future__ import annotations

import pandas as pd

import core
from core.scorers import cached_scores, join_scores, scorer_records


def test_cached_scores_computes_nothing_and_matches_compute(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    ds = core.load_sample("penguins")
    assert cached_scores(ds, ["knn_density", "el2n"], seed=3) is None
    computed = core.compute_scores(ds, ["knn_density", "el2n"], seed=3)
    again = cached_scores(ds, ["knn_density", "el2n"], seed=3)
    pd.testing.assert_frame_equal(again, computed)
    assert scorer_records(again) == scorer_records(computed)
    assert cached_scores(ds, ["knn_density", "el2n"], seed=4) is None   # another seed is another result


def test_join_scores_keeps_every_scorers_record():
    ds = core.load_sample("penguins")
    first = core.compute_scores(ds, ["knn_density"], seed=0, cache=False)
    second = core.compute_scores(ds, ["el2n"], seed=1, cache=False)
    joined = join_scores(first, second)
    records = {row["name"]: row for row in scorer_records(joined)}
    assert set(records) == {"knn_density", "el2n"} and records["el2n"]["seed"] == 1
    assert records["knn_density"]["seed"] == 0
    redone = join_scores(joined, core.compute_scores(ds, ["knn_density"], seed=2, cache=False))
    assert {row["name"]: row["seed"] for row in scorer_records(redone)} == {"el2n": 1, "knn_density": 2}
