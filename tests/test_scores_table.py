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


def test_aligning_a_table_remembers_its_positions_and_follows_a_new_table():
    import numpy as np

    from core.scorers import align_scores

    ds = core.load_sample("penguins")
    rng = np.random.default_rng(0)
    shuffled = pd.DataFrame({"v": np.arange(ds.n_samples, dtype=float)}, index=pd.Index(ds.ids, name="id"))
    shuffled = shuffled.iloc[rng.permutation(ds.n_samples)]
    first = align_scores(ds, shuffled)
    assert (first["v"].to_numpy() == np.arange(ds.n_samples)).all()
    remembered = ds.positions_in(shuffled.index)
    assert align_scores(ds, shuffled)["v"].tolist() == first["v"].tolist()
    assert ds.positions_in(shuffled.index) is remembered and not remembered.flags.writeable  # matched once
    other = shuffled.iloc[::-1].copy()  # another table: matched again, never from the last one's positions
    other["v"] = -other["v"]
    assert (align_scores(ds, other)["v"].to_numpy() == -np.arange(ds.n_samples)).all()
    as_text = other.set_axis(other.index.astype(str))  # ids read back from a CSV as text still match
    assert (align_scores(ds, as_text)["v"].to_numpy() == -np.arange(ds.n_samples)).all()
