"""``window:<scorer>``: a contiguous window of the hardest-first ranking (BWS)."""

import numpy as np
import pandas as pd
import pytest

import core
from core.data.dataset import Dataset
from core.foundation.errors import ConfigError
from core.search.pool import default_candidates
from core.selection.strategies.window import window_mask


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    ds = Dataset.from_arrays(centres[y] + rng.normal(size=(600, 2)), y)
    hardness = rng.random(600)
    scores = pd.DataFrame({"el2n": hardness}, index=pd.Index(ds.ids, name="id"))
    return ds, scores


def test_the_window_is_contiguous_in_the_ranking_and_has_the_budget(data):
    ds, scores = data
    hardness = scores["el2n"].to_numpy()
    rank = np.argsort(np.argsort(-hardness))  # 0 = hardest
    for start in (0.0, 0.3, 1.0):
        sel = core.select(ds, scores, f"window:el2n:start={start:g}", keep=0.2)
        assert sel.n_kept == 120
        kept = np.sort(rank[sel.mask])
        assert kept[-1] - kept[0] == 119  # one run of consecutive ranks
        assert kept[0] == round(start * (600 - 120))
    hardest = core.select(ds, scores, "window:el2n:start=0", keep=0.2).mask
    assert np.array_equal(hardest, core.select(ds, scores, "el2n:high", keep=0.2).mask)
    assert hardness[core.select(ds, scores, "window:el2n:start=1", keep=0.2).mask].max() < np.sort(hardness)[130]


def test_auto_start_follows_the_proxy_to_the_useful_rows(data):
    ds, _ = data
    # the hardest third are label noise: a window on them teaches the proxy nothing
    rng = np.random.default_rng(1)
    noisy = ds.y.copy()
    bad = rng.random(600) < 0.33
    noisy[bad] = (noisy[bad] + rng.integers(1, 3, bad.sum())) % 3
    ds2 = Dataset.from_arrays(ds.X, noisy)
    hardness = bad + 0.1 * rng.random(600)
    scores = pd.DataFrame({"el2n": hardness}, index=pd.Index(ds2.ids, name="id"))
    sel = core.select(ds2, scores, "window:el2n", keep=0.3)
    assert sel.params["start"] == "auto" and sel.params["start_used"] >= 0.3
    assert bad[sel.mask].mean() < 0.2 and "proxy_accuracy_by_start" in sel.details
    assert bad[core.select(ds2, scores, "window:el2n:start=0", keep=0.3).mask].mean() > 0.9  # the hard end: noise


def test_bad_options_raise_one_clear_error(data):
    ds, scores = data
    with pytest.raises(ConfigError, match="start"):
        core.select(ds, scores, "window:el2n:start=2", keep=0.2)
    with pytest.raises(ConfigError):
        core.select(ds, scores, "window:el2n:start=0.5")  # no keep


def test_window_mask_counts_nan_as_hardest():
    mask = window_mask(np.array([np.nan, 0.9, 0.5, 0.1]), 2, 0.0, 0)
    assert mask.tolist() == [True, True, False, False]


def test_auto_searches_window_starts(data):
    _, scores = data
    candidates = default_candidates(scores.columns, scores)
    assert {"window:el2n:start=0.25", "window:el2n:start=0.5", "window:el2n:start=0.75"} <= set(candidates)
