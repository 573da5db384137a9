"""Data-OOB (Kwon & Zou 2023): the out-of-bag accuracy of bagged trees on each row (core/scorers/oob.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import core
from core.scorers import compute_scores, estimate_seconds, get_scorer
from core.scorers.oob import data_oob_values


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))


def test_registered_as_a_valuation_that_keeps_the_high_end():
    scorer = get_scorer("data_oob")
    assert (scorer.family, scorer.needs_labels, scorer.keep, scorer.hard) == ("valuation", True, "high", "low")
    assert scorer().get_params() == {"n_estimators": 100, "max_features": "sqrt", "splitter": "random"}


def test_a_planted_flip_is_scored_by_the_trees_that_never_saw_it():
    """Full-depth trees memorise their bag: a flipped row is right in-bag and wrong out of bag.

    Were in-bag trees counted, the flipped row would score about 0.63 (the share of trees whose bag holds
    it); only out-of-bag trees see it for what it is.
    """
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-4, 1, size=(100, 2)), rng.normal(4, 1, size=(100, 2))])
    y = np.repeat([0, 1], 100)
    y[7] = 1  # deep inside class 0
    scores, out_of_bag = data_oob_values(X, y, n_estimators=60, seed=0)
    assert scores[7] <= 0.05 and data_oob_values(X, y, n_estimators=60, seed=0, splitter="best")[0][7] <= 0.05
    assert np.median(np.delete(scores, 7)) == 1.0
    # each row is out of about (1 - 1/n)^n ~ 37 % of the bags, and its score is a share of those trees
    assert 0.25 < out_of_bag.mean() / 60 < 0.5
    assert np.allclose(scores * out_of_bag, np.round(scores * out_of_bag))


def test_flipped_rows_of_the_known_answer_sample_score_low():
    ds = core.load_sample("known_answer")
    flipped = (ds.frame["is_flipped"].astype(str).str.lower() == "true").to_numpy()
    values = compute_scores(ds, ["data_oob"], seed=0)["data_oob"].to_numpy()
    assert ((0 <= values) & (values <= 1)).all()
    assert roc_auc_score(flipped, -values) >= 0.97  # measured 0.997 (knn_shapley: 0.997)
    assert values[flipped].mean() < 0.2 < 0.7 < values[~flipped].mean()  # measured 0.05 and 0.78


def test_seeded_and_parameters_change_it():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(300, 5)), rng.integers(0, 3, 300)
    first, _ = data_oob_values(X, y, n_estimators=20, seed=4)
    np.testing.assert_array_equal(first, data_oob_values(X, y, n_estimators=20, seed=4)[0])
    assert not np.array_equal(first, data_oob_values(X, y, n_estimators=20, seed=5)[0])
    ds = core.Dataset.from_arrays(X, y)
    frame = compute_scores(ds, [get_scorer("data_oob")(n_estimators=20)], seed=4, cache=False)
    np.testing.assert_array_equal(frame["data_oob"].to_numpy(), first)


def test_a_row_no_tree_left_out_gets_the_mean_of_the_others():
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.repeat([0, 1], 10)
    scores, out_of_bag = data_oob_values(X, y, n_estimators=1, seed=0)
    assert (out_of_bag == 0).any() and np.isfinite(scores).all()
    assert np.allclose(scores[out_of_bag == 0], scores[out_of_bag > 0].mean())


def test_cancel_stops_between_trees():
    class Stop:
        def is_set(self):
            return True

    with pytest.raises(core.errors.Cancelled):
        data_oob_values(np.zeros((30, 2)), np.repeat([0, 1], 15), n_estimators=5, cancel=Stop())


def test_the_cost_model_prices_its_trees():
    few = estimate_seconds([get_scorer("data_oob")(n_estimators=50)], 20000, 64, 5, speed=1.0)["total"]
    many = estimate_seconds([get_scorer("data_oob")(n_estimators=100)], 20000, 64, 5, speed=1.0)["total"]
    assert many == pytest.approx(2 * few) and few > 0.1
    best = estimate_seconds([get_scorer("data_oob")(n_estimators=50, splitter="best")], 20000, 64, 5, speed=1.0)
    assert best["total"] > 3 * few
    with pytest.raises(core.WorkbenchError, match="splitter must be random or best"):
        compute_scores(core.Dataset.from_arrays(np.eye(6), [0, 1] * 3), [get_scorer("data_oob")(splitter="worst")])
