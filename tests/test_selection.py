"""Selection strategies: exact budgets, the keep-end rule, CCS allocation, flags, forcing, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.selection import algorithms as algo
from core.data.dataset import Dataset
from core.foundation.errors import ConfigError
from core.scorers import list_scorers
from core.selection import ccs_hard_end, list_strategies, parse_strategy
from core import select

SCORERS = {meta["name"]: meta for meta in list_scorers()}
RANKING_HIGH = "el2n"  # a difficulty score that keeps its hard (high) end
RANKING_LOW = "margin"  # a difficulty score whose hard end is low
FLAGGER = "label_noise"  # flags rows and keeps its clean (low) end


@pytest.fixture(scope="module")
def ds():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2, 3], [220, 120, 50, 10])  # imbalanced, one tiny class
    X = rng.normal(size=(len(y), 6)) + y[:, None]
    return Dataset.from_arrays(X, np.array(["a", "b", "c", "d"])[y], ids=[f"r{i}" for i in range(len(y))])


@pytest.fixture(scope="module")
def scores(ds):
    """Synthetic scores under real scorer names, plus flags and duplicate groups."""
    rng = np.random.default_rng(2)
    n = ds.n_samples
    frame = pd.DataFrame({name: rng.normal(size=n) for name in SCORERS}, index=pd.Index(ds.ids, name="id"))
    frame["integer_score"] = rng.integers(0, 3, n).astype(float)  # many ties
    for name, meta in SCORERS.items():
        if meta["flags"]:
            frame[f"{name}_flag"] = frame[name] > 1.2
    assert "duplicate" in SCORERS, "the duplicate scorer must be registered"
    # duplicate groups for the dedupe tests
    groups = np.full(n, -1)
    groups[[0, 1, 2]] = 7  # all flagged: keep the first
    groups[[3, 4]] = 8  # one clean member: drop the flagged one
    frame["duplicate_group"] = groups
    frame["duplicate_flag"] = False
    frame.loc[frame.index[[0, 1, 2, 4]], "duplicate_flag"] = True
    return frame


def budget(ds, keep):
    return int(round(keep * ds.n_samples))


@pytest.mark.parametrize("keep", [0.05, 0.3, 0.77, 1.0])
@pytest.mark.parametrize("strategy", [
    "random", RANKING_HIGH, f"{RANKING_HIGH}:low", "integer_score:high", f"ccs:{RANKING_HIGH}",
    f"ccs:{RANKING_HIGH}:beta=0.3:bins=10", f"balanced:{RANKING_HIGH}", "balanced:random:mode=equal",
    f"band:{RANKING_HIGH}", f"band:{RANKING_HIGH}:low=0.2:high=0", f"drop-flagged:{FLAGGER}",
    f"scorecard:{RANKING_HIGH}=2,{FLAGGER}=1",
])
def test_budget_is_exact(ds, scores, strategy, keep):
    sel = select(ds, scores, strategy, keep=keep, seed=0)
    if strategy.startswith("drop-flagged") and budget(ds, keep) > (~scores[f"{FLAGGER}_flag"]).sum():
        # flagged rows never come back to fill a budget: every clean row is kept instead
        assert sel.n_kept == (~scores[f"{FLAGGER}_flag"]).sum() == sel.mask.sum()
        return
    assert sel.n_kept == budget(ds, keep) == sel.mask.sum() == len(sel.kept_ids)
    assert sel.n_input == ds.n_samples and sel.data_fingerprint == ds.fingerprint


def test_tiny_keep_keeps_at_least_one_row(ds, scores):
    assert select(ds, scores, "random", keep=1e-6).n_kept == 1


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_default_end_follows_scorer_keep(ds, scores, name):
    sel = select(ds, scores, name, keep=0.3, seed=0)
    kept, dropped = scores[name].to_numpy()[sel.mask], scores[name].to_numpy()[~sel.mask]
    if SCORERS[name]["keep"] == "high":
        assert kept.min() >= dropped.max()
    else:
        assert kept.max() <= dropped.min()
    assert sel.params["end"] == SCORERS[name]["keep"]
    opposite = select(ds, scores, f"{name}:{'low' if SCORERS[name]['keep'] == 'high' else 'high'}", keep=0.3)
    assert not (opposite.mask & sel.mask).any()


def test_threshold_keeps_the_kept_side(ds, scores):
    high = select(ds, scores, RANKING_HIGH, threshold=0.5)
    assert np.array_equal(high.mask, scores[RANKING_HIGH].to_numpy() >= 0.5)
    low = select(ds, scores, f"{RANKING_HIGH}:low", threshold=0.5)
    assert np.array_equal(low.mask, scores[RANKING_HIGH].to_numpy() <= 0.5)
    assert high.threshold == 0.5 and high.keep is None
    with pytest.raises(ConfigError, match="single-score"):
        select(ds, scores, f"ccs:{RANKING_HIGH}", threshold=0.5)
    with pytest.raises(ConfigError, match="not both"):
        select(ds, scores, RANKING_HIGH, keep=0.5, threshold=0.5)


def test_proportional_quotas_within_one_row_per_class(ds, scores):
    counts = np.bincount(ds.y)
    for keep in (0.1, 0.33, 0.5, 0.9):
        sel = select(ds, scores, f"balanced:{RANKING_HIGH}", keep=keep)
        kept = np.bincount(ds.y[sel.mask], minlength=ds.n_classes)
        assert np.all(np.abs(kept - keep * counts) < 1)
        assert kept.sum() == budget(ds, keep)


def test_equal_quotas_equalise_and_cap_small_classes(ds, scores):
    sel = select(ds, scores, "balanced:random:mode=equal", keep=0.5)
    kept = np.bincount(ds.y[sel.mask], minlength=ds.n_classes)
    counts = np.bincount(ds.y)
    assert kept[3] == counts[3]  # the 10-row class is kept whole
    uncapped = kept[kept < counts]
    assert uncapped.max() - uncapped.min() <= 1
    assert algo.equal_quotas(np.array([5, 100, 100]), 101).tolist() == [5, 48, 48]


def test_balanced_keeps_the_kept_end_within_each_class(ds, scores):
    sel = select(ds, scores, f"balanced:{RANKING_HIGH}", keep=0.4)
    values = scores[RANKING_HIGH].to_numpy()
    for c in range(ds.n_classes):
        members = ds.y == c
        if (members & ~sel.mask).any() and (members & sel.mask).any():
            assert values[members & sel.mask].min() >= values[members & ~sel.mask].max()


def test_ccs_allocation_fills_small_bins_first():
    assert algo.ccs_allocation(np.array([2, 5, 100, 100]), 40).tolist() == [2, 5, 16, 17]
    assert algo.ccs_allocation(np.array([100, 3]), 50).tolist() == [47, 3]
    taken = algo.ccs_allocation(np.array([7, 7, 7, 7, 7]), 34)
    assert taken.sum() == 34 and taken.max() - taken.min() <= 1
    assert algo.ccs_allocation(np.array([4, 9]), 13).tolist() == [4, 9]


def test_ccs_prunes_hardest_and_samples_bins_by_allocation():
    # 1000 rows with hardness 0..999: hardest 10% go, the rest fall in 9 equal bins of 100
    hardness = np.arange(1000, dtype=float)
    hardness[:5] = -5000.0  # a sparse easy tail: bin 0 holds only these 5 rows
    mask, info = algo.ccs_mask(hardness, budget=200, beta=0.1, n_bins=10, seed=0)
    assert mask.sum() == 200 and info["n_pruned_hardest"] == 100
    assert not mask[900:].any()  # the hardest 10% are never kept
    assert mask[:5].all()  # the smallest bin is taken whole
    taken = list(info["bin_taken"].values())
    assert sum(taken) == 200 and min(taken) == 5
    edges = np.asarray(info["bin_edges"])
    per_bin = np.histogram(hardness[mask], bins=edges)[0]
    assert per_bin[np.nonzero(per_bin)].tolist() == [info["bin_taken"][b] for b in sorted(info["bin_taken"])]


def test_ccs_takes_the_lowest_random_ranks_of_each_bin():
    # ties and NaN included: within every bin the kept rows are that bin's lowest random ranks
    rng = np.random.default_rng(4)
    hardness = np.where(rng.random(3000) < 0.05, np.nan, rng.integers(0, 40, 3000).astype(float))
    priority = algo.random_priority(3000, 7)
    mask, info = algo.ccs_mask(hardness, budget=900, beta=0.1, n_bins=8, seed=7)
    assert mask.sum() == 900 and not mask[np.isnan(hardness)].any()
    edges = np.asarray(info["bin_edges"])
    finite = np.where(np.isnan(hardness), np.inf, hardness)
    pool = algo.priority_order(finite, 7)[info["n_pruned_hardest"]:]  # hardest first: what beta left
    bin_of = np.clip(np.searchsorted(edges, hardness[pool], side="right") - 1, 0, len(edges) - 2)
    for b in np.unique(bin_of):
        members = pool[bin_of == b]
        kept = members[mask[members]]
        assert len(kept) == info["bin_taken"][int(b)]
        if len(kept) < len(members):  # every kept row outranks every dropped row of its bin
            assert priority[kept].max() < priority[members[~mask[members]]].min()


def test_ccs_lowers_beta_when_budget_needs_rows():
    mask, info = algo.ccs_mask(np.arange(100.0), budget=95, beta=0.1, n_bins=5, seed=0)
    assert mask.sum() == 95 and info["beta_used"] == pytest.approx(0.05)


def test_ccs_hard_end_rule():
    # difficulty scores: the end keep points at
    assert SCORERS[RANKING_HIGH]["keep"] == "high" and ccs_hard_end(RANKING_HIGH) == "high"
    assert SCORERS[RANKING_LOW]["keep"] == "low" and ccs_hard_end(RANKING_LOW) == "low"
    # scores that keep the clean end: the opposite end, where mislabeled rows collect
    assert SCORERS[FLAGGER]["keep"] == "low" and ccs_hard_end(FLAGGER) == "high"
    for name in ("aum", "datamap_confidence", "knn_shapley"):
        if name in SCORERS:
            assert SCORERS[name]["keep"] == "high" and ccs_hard_end(name) == "low"
    # the rule is the scorers' declared metadata, not a list kept here
    for name, meta in SCORERS.items():
        assert ccs_hard_end(name) == meta["hard"]


def test_ccs_via_select_drops_the_hard_end(ds, scores):
    sel = select(ds, scores, f"ccs:{RANKING_HIGH}:beta=0.2", keep=0.3, seed=0)
    values = scores[RANKING_HIGH].to_numpy()
    assert values[sel.mask].max() < np.quantile(values, 0.8) + 1e-9
    assert sel.params["hard"] == "high" and sel.params["beta"] == 0.2
    override = select(ds, scores, f"ccs:{RANKING_HIGH}:beta=0.2:hard=low", keep=0.3, seed=0)
    assert values[override.mask].min() > np.quantile(values, 0.2) - 1e-9


def test_drop_flagged_keeps_one_row_per_duplicate_group(ds, scores):
    sel = select(ds, scores, "dedupe", seed=0)
    assert sel.mask[0] and not sel.mask[1] and not sel.mask[2]  # all flagged: first stays
    assert sel.mask[3] and not sel.mask[4]  # one clean member: the flagged one goes
    assert sel.n_kept == ds.n_samples - 3


def test_drop_flagged_drops_flags_and_meets_budget(ds, scores):
    flags = scores[f"{FLAGGER}_flag"].to_numpy()
    plain = select(ds, scores, f"drop-flagged:{FLAGGER}")
    assert np.array_equal(plain.mask, ~flags)
    small = select(ds, scores, f"drop-flagged:{FLAGGER}", keep=0.5, seed=3)
    assert not (small.mask & flags).any() and small.n_kept == budget(ds, 0.5)
    # a keep fraction only caps the clean rows: flagged rows never come back (keep=1.0 used to restore them)
    large = select(ds, scores, f"drop-flagged:{FLAGGER}", keep=1.0)
    assert np.array_equal(large.mask, ~flags) and large.details["budget_not_reached"]


def test_band_drops_both_tails(ds, scores):
    values = scores[RANKING_HIGH].to_numpy()
    sel = select(ds, scores, f"band:{RANKING_HIGH}:low=0.1:high=0.1")
    assert sel.n_kept == ds.n_samples - 2 * 40
    assert values[sel.mask].min() > np.sort(values)[39] and values[sel.mask].max() < np.sort(values)[-40]


def test_scorecard_orients_each_scorer_by_keep(ds, scores):
    one = select(ds, scores, f"scorecard:{RANKING_HIGH}", keep=0.25)
    assert np.array_equal(one.mask, select(ds, scores, RANKING_HIGH, keep=0.25).mask)
    flipped = select(ds, scores, f"scorecard:{RANKING_HIGH}:low", keep=0.25)
    assert np.array_equal(flipped.mask, select(ds, scores, f"{RANKING_HIGH}:low", keep=0.25).mask)
    mixed = select(ds, scores, f"scorecard:{RANKING_HIGH}=3,{FLAGGER}=1", keep=0.25)
    assert mixed.params["weights"] == [3.0, 1.0]


def test_force_lists_apply_on_top(ds, scores):
    base = select(ds, scores, RANKING_HIGH, keep=0.2)
    dropped, kept = ds.ids[~base.mask][:3], ds.ids[base.mask][:2]
    sel = select(ds, scores, RANKING_HIGH, keep=0.2, force_keep=dropped, force_drop=kept)
    assert sel.mask[ds.index_of(dropped)].all() and not sel.mask[ds.index_of(kept)].any()
    assert sel.n_kept == base.n_kept + 1
    assert sel.params["force_keep"] == list(dropped)
    with pytest.raises(ConfigError, match="both"):
        select(ds, scores, "random", keep=0.2, force_keep=["r1"], force_drop=["r1"])
    with pytest.raises(ConfigError, match="not in the data"):
        select(ds, scores, "random", keep=0.2, force_keep=["nope"])


@pytest.mark.parametrize("strategy, match", [
    ("nonsense", "no score column 'nonsense'"), ("ccs:", "needs a scorer"), ("ccs:nope", "no score column"),
    (f"{RANKING_HIGH}:sideways", "not an end"), (f"ccs:{RANKING_HIGH}:beta=2", "beta"),
    (f"ccs:{RANKING_HIGH}:gamma=1", "unknown option"), (f"balanced:{RANKING_HIGH}:mode=odd", "mode"),
    (f"drop-flagged:{RANKING_HIGH}", "flags no rows"), ("", "empty"), ("scorecard:", "at least one"),
])
def test_bad_strategies_raise_config_error(ds, scores, strategy, match):
    with pytest.raises(ConfigError, match=match):
        select(ds, scores, strategy, keep=0.5)


@pytest.mark.parametrize("keep", [0, -0.1, 1.5, "half"])
def test_keep_outside_unit_interval_raises(ds, scores, keep):
    with pytest.raises(ConfigError, match="keep"):
        select(ds, scores, "random", keep=keep)


def test_missing_keep_and_unregistered_column(ds, scores):
    with pytest.raises(ConfigError, match="needs a keep fraction"):
        select(ds, scores, "random")
    with pytest.raises(ConfigError, match="default end is unknown"):
        select(ds, scores, "integer_score", keep=0.5)


def test_scores_must_match_the_data(ds, scores):
    with pytest.raises(ConfigError, match="do not match"):
        select(ds, scores.iloc[:-1], RANKING_HIGH, keep=0.5)
    shuffled = scores.sample(frac=1.0, random_state=0)
    assert np.array_equal(select(ds, shuffled, RANKING_HIGH, keep=0.5).mask,
                          select(ds, scores, RANKING_HIGH, keep=0.5).mask)
    as_text = scores.reset_index()  # read back from CSV: id as a column
    assert select(ds, as_text, RANKING_HIGH, keep=0.5).n_kept == budget(ds, 0.5)


def test_deterministic_per_seed(ds, scores):
    for strategy in ("random", f"ccs:{RANKING_HIGH}", "integer_score:high", "balanced:random"):
        a = select(ds, scores, strategy, keep=0.3, seed=5)
        b = select(ds, scores, strategy, keep=0.3, seed=5)
        assert np.array_equal(a.mask, b.mask)
    assert not np.array_equal(select(ds, scores, "random", keep=0.3, seed=1).mask,
                              select(ds, scores, "random", keep=0.3, seed=2).mask)


def test_ties_are_not_broken_by_row_order(ds, scores):
    sel = select(ds, scores, "integer_score:high", keep=0.5, seed=0)
    values = scores["integer_score"].to_numpy()
    cut = values[sel.mask].min()
    tied_kept = np.flatnonzero(sel.mask & (values == cut))
    assert tied_kept.max() > np.flatnonzero(values == cut)[len(tied_kept)]  # not the first tied rows


def test_every_listed_strategy_parses_and_runs(ds, scores):
    listed = list_strategies(scores)
    assert "random" in listed and "auto" in listed and f"ccs:{RANKING_HIGH}" in listed
    for strategy in listed:
        if strategy in ("auto", "kcenter", "kmeans-diversity", "facility-location"):
            parse_strategy(strategy, scores.columns)
            continue
        sel = select(ds, scores, strategy, keep=0.5, seed=0)
        assert 0 < sel.n_kept <= ds.n_samples


@pytest.mark.parametrize("strategy", ["kcenter", "kmeans-diversity", "facility-location"])
def test_coreset_strategies_meet_budget(ds, strategy):
    sel = select(ds, None, strategy, keep=0.1, seed=0)
    assert sel.n_kept == budget(ds, 0.1)
    assert np.array_equal(sel.mask, select(ds, None, strategy, keep=0.1, seed=0).mask)


def test_selection_to_dict_is_json(ds, scores):
    sel = select(ds, scores, f"ccs:{RANKING_HIGH}", keep=0.3, seed=0, force_keep=["r0"])
    text = json.dumps(sel.to_dict())
    recipe = json.loads(text)
    assert recipe["strategy"] == f"ccs:{RANKING_HIGH}" and recipe["n_kept"] == sel.n_kept
    assert "mask" not in recipe and recipe["params"]["force_keep"] == ["r0"]


@pytest.mark.parametrize("strategy", ["random", f"ccs:{RANKING_HIGH}", "balanced:random", f"balanced:{RANKING_HIGH}"])
def test_neighbouring_budgets_keep_nearly_the_same_rows(ds, scores, strategy):
    """A slider step changes only the rows it must: for one seed a larger budget keeps a superset
    (CCS: up to the rows its per-bin quotas move), so the live estimate's warm starts stay warm."""
    small = select(ds, scores, strategy, keep=0.30, seed=4).mask
    large = select(ds, scores, strategy, keep=0.32, seed=4).mask
    moved = int((small & ~large).sum())
    assert moved <= (0 if not strategy.startswith("ccs") else 4), f"{moved} rows left the subset"
