"""Strategies from the pruning literature: Moderate coresets, the data-maps ambiguous region, D2 pruning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import core
from core.data.dataset import Dataset
from core.foundation.errors import ConfigError
from core.foundation.neighbors import knn_graph
from core.selection import format_strategy, needed_scorers, parse_strategy
from core.selection.strategies.d2 import d2_mask
from core.selection.strategies.moderate import moderate_mask


@pytest.fixture(scope="module")
def three_classes():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [300, 200, 100])
    X = rng.normal(size=(600, 5)) + 4.0 * np.eye(3, 5)[y]
    return Dataset.from_arrays(X, y, ids=[f"r{i}" for i in range(600)])


def _empty_scores(ds, **columns):
    return pd.DataFrame(columns or {"unused": np.zeros(ds.n_samples)}, index=pd.Index(ds.ids, name="id"))


# ----------------------------------------------------------------------------- moderate (Xia et al. 2023)


def test_moderate_keeps_rows_nearest_the_median_distance_per_class(three_classes):
    ds = three_classes
    mask = moderate_mask(ds.X, ds.y, 3, 150, seed=0)
    assert mask.sum() == 150
    np.testing.assert_array_equal(np.bincount(ds.y[mask]), [75, 50, 25])  # proportional quotas
    for label in range(3):
        members = ds.y == label
        distance = np.linalg.norm(ds.X[members] - ds.X[members].mean(axis=0), axis=1)
        gap = np.abs(distance - np.median(distance))
        assert gap[mask[members]].max() <= gap[~mask[members]].min() + 1e-9


def test_moderate_through_select_avoids_far_out_flipped_rows():
    ds = core.load_sample("known_answer")
    flipped = ds.frame["is_flipped"].astype(str).str.lower().eq("true").to_numpy()
    sel = core.select(ds, None, strategy="moderate", keep=0.3, seed=0)
    assert sel.mask.sum() == round(0.3 * ds.n_samples)
    assert flipped[sel.mask].mean() <= flipped.mean()  # not enriched in label errors


# ----------------------------------------------------------------------------- data maps (Swayamdipta et al. 2020)


def test_ambiguous_keeps_the_most_variable_rows_and_asks_for_its_score(three_classes):
    ds = three_classes
    variability = np.random.default_rng(1).random(ds.n_samples)
    sel = core.select(ds, _empty_scores(ds, datamap_variability=variability), strategy="ambiguous", keep=0.25, seed=0)
    assert sel.mask.sum() == 150
    np.testing.assert_array_equal(np.bincount(ds.y[sel.mask]), [75, 50, 25])  # within each class
    for label in range(3):
        members = ds.y == label
        assert variability[members & sel.mask].min() >= variability[members & ~sel.mask].max()
    assert needed_scorers("ambiguous") == ["datamap_variability"]
    with pytest.raises(ConfigError, match="datamap_variability"):
        core.select(ds, _empty_scores(ds), strategy="ambiguous", keep=0.25, seed=0)


# ----------------------------------------------------------------------------- D2 pruning (Maharana et al. 2024)


def test_d2_forward_pass_lifts_hard_regions_and_reverse_pass_spreads_picks():
    rng = np.random.default_rng(0)
    # Two far-apart clusters; the first is uniformly a little harder than the second.
    X = np.vstack([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 30.0])
    hardness = np.r_[rng.uniform(0.6, 1.0, 100), rng.uniform(0.0, 0.5, 100)]
    graph = knn_graph(X, 10)
    top = np.argsort(-hardness)[:40]
    assert (top < 100).all()  # top-k by difficulty never leaves the hard cluster
    mask = d2_mask(hardness, graph.indices, graph.distances, 40, seed=0)
    assert mask.sum() == 40
    assert 0 < mask[100:].sum() < mask[:100].sum()  # hard region first, the easy one still covered
    no_reverse = d2_mask(hardness, graph.indices, graph.distances, 40, gamma_reverse=1e6, seed=0)
    assert no_reverse[100:].sum() < mask[100:].sum()  # without reverse messages, less coverage


def test_d2_excludes_the_hardest_beta_fraction(three_classes):
    ds = three_classes
    hardness = np.arange(ds.n_samples, dtype=float)
    graph = knn_graph(ds.X, 10)
    mask = d2_mask(hardness, graph.indices, graph.distances, 200, beta=0.1, seed=0)
    assert mask.sum() == 200 and not mask[-60:].any()


def test_d2_strategy_string_everywhere(three_classes):
    ds = three_classes
    scores = _empty_scores(ds, el2n=np.random.default_rng(2).random(ds.n_samples))
    spec = parse_strategy("d2:el2n:k=5:gamma=2", scores.columns)
    assert format_strategy(spec) == "d2:el2n:gamma=2:k=5" and format_strategy("d2:el2n:k=30:beta=0.1") == "d2:el2n"
    sel = core.select(ds, scores, strategy="d2:el2n:k=5", keep=0.2, seed=0)
    assert sel.mask.sum() == 120 and sel.params["k"] == 5
    again = core.select(ds, scores, strategy="d2:el2n:k=5", keep=0.2, seed=0)
    np.testing.assert_array_equal(sel.mask, again.mask)
    with pytest.raises(ConfigError, match="gamma"):
        parse_strategy("d2:el2n:gamma=0")
