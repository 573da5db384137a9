"""Which copy of a duplicate group survives: dedupe / drop-flagged:duplicate :keep=<rule> (issue 23)."""

from __future__ import annotations

import numpy as np
import pytest

import core
from core.selection import format_strategy, parse_strategy
from core.selection.algorithms import dedupe_flags
from core.selection.strategies.flags import survivor_drops

RULES = ["first", "confident", "central", "atypical", "random"]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def blobs():
    """Three well-separated classes; rows 0..29 are copied (rows 300..329), the copies' labels kept except
    rows 0..9, whose first copy (in data order) carries a wrong label: the copy comes first."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 100)
    X = rng.normal(size=(300, 4)) + 6.0 * np.eye(3, 4)[y]
    copies = X[:30] + rng.normal(scale=1e-3, size=(30, 4))
    wrong = y[:30].copy()
    wrong[:10] = (wrong[:10] + 1) % 3
    X_all = np.vstack([copies[:10], X, copies[10:]])  # the mislabeled copies lead their groups
    y_all = np.concatenate([wrong[:10], y, wrong[10:]])
    ds = core.Dataset.from_arrays(X_all, y_all)
    return ds, core.compute_scores(ds, ["duplicate"], seed=0)


def _groups(scores):
    return scores["duplicate_group"].fillna(-1).to_numpy(dtype=np.int64)


def test_first_is_the_default_and_today_behaviour(blobs):
    ds, scores = blobs
    flags = scores["duplicate_flag"].to_numpy(dtype=bool)
    today = ~dedupe_flags(flags, _groups(scores))
    for text in ("dedupe", "dedupe:keep=first", "drop-flagged:duplicate"):
        assert np.array_equal(core.select(ds, scores, text).mask, today), text
    assert format_strategy(parse_strategy("dedupe:keep=first")) == "drop-flagged:duplicate"


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_keeps_exactly_one_row_per_group(blobs, rule):
    ds, scores = blobs
    sel = core.select(ds, scores, f"dedupe:keep={rule}", seed=0)
    groups = _groups(scores)
    assert len(np.unique(groups[groups >= 0])) == 30
    for g in np.unique(groups[groups >= 0]):
        assert sel.mask[groups == g].sum() == 1
    assert sel.mask[groups < 0].all() and sel.params["survivor"] == rule


def test_confident_keeps_the_copy_whose_label_the_model_believes(blobs):
    ds, scores = blobs
    mislabeled = np.arange(10)  # first in their groups, wrong label
    first = core.select(ds, scores, "dedupe").mask
    confident = core.select(ds, scores, "dedupe:keep=confident", seed=0).mask
    assert first[mislabeled].all()
    assert not confident[mislabeled].any() and confident[10:20].all()  # their correctly labelled originals


def test_central_and_atypical_pick_the_nearest_and_farthest_from_the_class_mean(blobs):
    ds, scores = blobs
    groups = _groups(scores)
    means = np.stack([ds.X[ds.y == c].astype(float).mean(axis=0) for c in range(ds.n_classes)])
    distance = np.linalg.norm(ds.X - means[ds.y], axis=1)
    central = core.select(ds, scores, "dedupe:keep=central").mask
    atypical = core.select(ds, scores, "dedupe:keep=atypical").mask
    for g in np.unique(groups[groups >= 0]):
        members = np.flatnonzero(groups == g)
        assert central[members[np.argmin(distance[members])]]
        assert atypical[members[np.argmax(distance[members])]]
    assert not np.array_equal(central, atypical)


def test_random_is_seeded(blobs):
    ds, scores = blobs
    once = core.select(ds, scores, "dedupe:keep=random", seed=1).mask
    assert np.array_equal(once, core.select(ds, scores, "dedupe:keep=random", seed=1).mask)
    others = [core.select(ds, scores, "dedupe:keep=random", seed=s).mask for s in range(2, 6)]
    assert any(not np.array_equal(once, other) for other in others)


def test_survivor_avoids_rows_other_scorers_flag():
    flags = np.array([False, True, True, False])
    groups = np.array([0, 0, 0, -1])
    preference = np.array([3.0, 2.0, 1.0, 0.0])
    eligible = np.array([False, True, True, True])  # row 0 is flagged by another scorer
    assert survivor_drops(flags, groups, preference, eligible).tolist() == [True, False, True, False]
    assert survivor_drops(flags, groups, preference, np.ones(4, bool)).tolist() == [False, True, True, False]


def test_bad_rule_is_one_clear_error(blobs):
    ds, scores = blobs
    with pytest.raises(core.WorkbenchError, match="keep must be first or confident or central or atypical or random"):
        core.select(ds, scores, "dedupe:keep=best")


def test_the_manifest_records_the_survivor_and_apply_reproduces_it(blobs, tmp_path):
    ds, scores = blobs
    sel = core.select(ds, scores, "dedupe:keep=confident", seed=0)
    manifest = core.build_manifest(ds, sel, None, scores)
    assert manifest["strategy"] == "dedupe:keep=confident" and manifest["params"]["survivor"] == "confident"
    again = core.apply_manifest(manifest, ds)
    assert np.array_equal(again.mask, sel.mask)
