"""Pruning curves and ``auto`` on the known-answer set, with the real scorers."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import core
from core.search.auto import auto_select, choose, default_candidates, smallest_within
from core.search.curves import curve_on_folds as pruning_curve
from core.foundation.errors import Cancelled, ConfigError
from core.evaluation.live import LiveEvaluator, evaluate_exact
from core.data.samples import load_sample
from core import select


@pytest.fixture(scope="module")
def known():
    ds = load_sample("known_answer")
    # loss and el2n are no longer default scorers (issue 11); these tests use them by name.
    scores = core.compute_scores(ds, [*core.scorers.DEFAULT_SCORERS, "loss", "el2n"], seed=0)
    return ds, scores, LiveEvaluator(ds, folds=5, seed=0)


def test_curve_is_tidy_and_always_includes_random(known):
    ds, scores, ev = known
    calls = []
    curve = pruning_curve(ds, scores, ["ccs:el2n", "el2n"], [0.2, 0.5], seeds=2, evaluator=ev,
                          progress=lambda *a: calls.append(a))
    assert list(curve.columns[:5]) == ["strategy", "keep_fraction", "n_kept", "accuracy_mean", "accuracy_std"]
    assert set(curve["strategy"]) == {"random", "ccs:el2n", "el2n"} and len(curve) == 6
    assert (curve["n_kept"] == (curve["keep_fraction"] * ds.n_samples).round().astype(int)).all()
    random_rows = curve[curve["strategy"] == "random"]
    assert (random_rows["accuracy_std"] > 0).all() and (random_rows["n_runs"] == 2 * 5).all()
    assert calls[-1][0] == calls[-1][1] and curve.attrs["full"]["n_kept"] == ds.n_samples
    again = pruning_curve(ds, scores, "ccs:el2n,el2n", [0.2, 0.5], seeds=2, evaluator=ev)
    assert np.allclose(again["accuracy_mean"], curve["accuracy_mean"])


def test_curve_cancels_and_rejects_typos_before_work(known):
    ds, scores, ev = known
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        pruning_curve(ds, scores, ["el2n"], [0.5], evaluator=ev, cancel=stop)
    with pytest.raises(ConfigError, match="el2m"):
        pruning_curve(ds, scores, ["el2m"], [0.5], evaluator=ev)
    with pytest.raises(ConfigError, match="keep"):
        pruning_curve(ds, scores, ["el2n"], [0.0, 0.5], evaluator=ev)


def test_known_results_hard_only_collapses_ccs_fixes_it(known):
    """Keeping only the hardest rows collapses at small keep fractions; CCS does not; with
    scarce data the easy end beats the hard end."""
    ds, scores, ev = known
    curve = pruning_curve(ds, scores, ["el2n", "ccs:el2n", "el2n:low"], [0.1], seeds=3, evaluator=ev)
    acc = dict(zip(curve["strategy"], curve["accuracy_mean"]))
    assert acc["el2n"] < acc["random"] - 0.2
    assert acc["ccs:el2n"] > acc["el2n"] + 0.2 and acc["ccs:el2n"] >= acc["random"] - 0.03
    assert acc["el2n:low"] > acc["el2n"] + 0.2


@pytest.mark.parametrize("keep", [0.1, 0.5])
@pytest.mark.slow
def test_auto_at_least_ties_random(known, keep):
    ds, scores, ev = known
    sel = auto_select(ds, scores, keep, seed=0, evaluator=ev)
    honest, rand = sel.details["honest_estimate"], sel.details["random_reference"]
    assert not honest["optimistic"] and len(honest["choices"]) == 5
    assert honest["accuracy"] >= rand["accuracy"] - 0.005
    assert sel.n_kept == round(keep * ds.n_samples)


@pytest.mark.slow
def test_auto_choice_also_holds_for_logistic_regression(known):
    ds, scores, ev = known
    sel = auto_select(ds, scores, 0.5, seed=0, evaluator=ev)
    chosen = evaluate_exact(ds, sel.mask, "logreg").accuracy
    randoms = [evaluate_exact(ds, m, "logreg").accuracy for m in ev.random_masks(sel.n_kept, 2)]
    assert chosen >= np.mean(randoms) - 0.01


@pytest.mark.slow
def test_select_auto_records_the_choice_and_candidates(known):
    ds, scores, ev = known
    sel = select(ds, scores, "auto", keep=0.3, seed=0, evaluator=ev, force_drop=[ds.ids[0]])
    assert sel.strategy == "auto" and sel.resolved_strategy != "auto"
    table = sel.details["candidates"]
    assert {"strategy", "accuracy", "std", "vs_random", "n_kept", "chosen"} <= set(table[0])
    assert sum(row["chosen"] for row in table) == 1
    assert any(row["strategy"] == "random" for row in table)
    assert any(row["coverage_aware"] and row["estimate"] == "full" for row in table)
    assert not sel.mask[0]
    assert np.array_equal(select(ds, scores, sel.resolved_strategy, keep=0.3, seed=0).mask[1:], sel.mask[1:])
    with pytest.raises(ConfigError, match="needs a keep fraction"):
        select(ds, scores, "auto")


@pytest.mark.slow
def test_auto_is_deterministic_and_can_say_it_is_optimistic(known):
    ds, scores, ev = known
    a = auto_select(ds, scores, 0.2, seed=1, evaluator=ev, nested=False)
    b = auto_select(ds, scores, 0.2, seed=1, evaluator=ev, nested=False)
    assert np.array_equal(a.mask, b.mask) and a.resolved_strategy == b.resolved_strategy
    assert a.details["honest_estimate"]["optimistic"] is True
    assert "optimistic" in a.details["honest_estimate"]["method"]


def test_default_candidates_cover_both_ends_ccs_and_flags(known):
    _, scores, _ = known
    candidates = default_candidates(scores.columns)
    assert candidates[0] == "random"
    assert {"el2n:high", "el2n:low", "ccs:el2n:beta=0.1", "drop-flagged:label_noise"} <= set(candidates)
    assert not any(c.startswith("duplicate_group") or c.startswith("label_noise_flag") for c in candidates)


def test_near_identical_rankings_count_once_and_ccs_is_always_in(known):
    _, scores, _ = known
    frame = scores.copy()
    frame["el2n"] = frame["loss"] * 2 + 1  # the same ranking as loss under another name
    pooled = default_candidates(frame.columns, frame)
    assert "loss:high" in pooled and "el2n:high" not in pooled and "el2n:low" not in pooled
    named = [c.split(":")[1] for c in pooled if c.startswith("ccs:")]
    assert set(named) == {c.split(":")[0] for c in pooled if c.endswith(":high")}  # CCS on every distinct score
    assert len(pooled) < len(default_candidates(frame.columns))


@pytest.mark.slow
def test_auto_passes_are_announced_and_progress_never_goes_back(known):
    ds, scores, ev = known
    calls = []
    sel = auto_select(ds, scores, 0.3, seed=0, evaluator=ev, progress=lambda *a: calls.append(a))
    fractions = [done / total for done, total, _ in calls]
    assert all(b >= a - 1e-9 for a, b in zip(fractions, fractions[1:])) and fractions[-1] == 1.0
    messages = " ".join(m for _, _, m in calls)
    assert "pass 1 of 2" in messages and "pass 2 of 2" in messages and "s left" in messages
    assert [p["pass"] for p in sel.details["passes"]] == ["screen", "full"]
    assert sel.details["leak_free"] is False  # no fold-wise scores given: said plainly


def test_choose_prefers_random_unless_clearly_better():
    folds = np.array([0.80, 0.82, 0.78, 0.81, 0.79])
    assert choose({"random": folds, "noisy": folds + np.array([0.03, -0.02, 0.02, -0.01, 0.0])}) == "random"
    assert choose({"random": folds, "better": folds + 0.02}) == "better"


def test_smallest_within_finds_the_smallest_keep(known):
    ds, scores, ev = known
    sel = smallest_within(ds, scores, points=1.0, keep_fractions=[0.02, 0.05, 0.1, 0.3, 1.0], evaluator=ev,
                          candidates=["random", "el2n:low", "ccs:el2n", "label_noise:low"])
    search = sel.details["keep_search"]
    assert search[-1]["within"] and all(not row["within"] for row in search[:-1])
    assert sel.keep == search[-1]["keep"] and sel.n_kept == round(sel.keep * ds.n_samples)
    assert search[-1]["accuracy"] >= sel.details["target"]
    assert "optimistic" in sel.details["note"] and "honest_estimate" in sel.details


@pytest.mark.slow
def test_curve_and_auto_are_leak_free_with_fold_scores(known):
    from core.evaluation import fold_scores
    from core.selection import score_names

    ds, scores, ev = known
    fs = fold_scores(ds, score_names(scores.columns), folds=5, seed=0)  # every scorer the strategies use
    curve = pruning_curve(ds, scores, ["ccs:el2n"], [0.3], seeds=1, evaluator=ev, fold_scores=fs)
    assert curve["leak_free"].all()
    without = pruning_curve(ds, scores, ["ccs:el2n"], [0.3], seeds=1, evaluator=ev).set_index("strategy")
    assert not without.loc["ccs:el2n", "leak_free"] and without.loc["random", "leak_free"]
    sel = auto_select(ds, scores, 0.3, seed=0, evaluator=ev, fold_scores=fs)
    assert sel.details["leak_free"] and sel.details["honest_estimate"]["leak_free"]
    assert all(row["leak_free"] for row in sel.details["candidates"])


def test_candidates_are_compared_at_the_exported_size(known):
    """Each fold keeps as many rows as the exported subset will; the reported figures stay at keep."""
    from core.search.screening import CandidateTable

    ds, scores, ev = known
    table = CandidateTable(ds, scores, 0.3, 0, ev)
    twin = table.at_exported_size()
    assert twin.keep == pytest.approx(0.3 * ds.n_samples / np.mean([np.sum(ev.fold_of_row_ != f) for f in range(5)]))
    assert all(abs(int(m.sum()) - 0.3 * ds.n_samples) <= 2 for m in twin.masks("el2n:low"))
    assert all(int(m.sum()) < 0.3 * ds.n_samples - 50 for m in table.masks("el2n:low"))
    assert CandidateTable(ds, scores, 0.8, 0, ev).at_exported_size().keep == 0.8  # no room left to match
    sel = auto_select(ds, scores, 0.3, seed=0, evaluator=ev, nested=False,
                      candidates=["random", "el2n:low", "ccs:el2n", "label_noise:low"])
    assert sel.details["decision"]["keep_inside_folds"] == pytest.approx(twin.keep)
    chosen = sel.resolved_strategy
    assert sel.details["cv_estimate"]["accuracy"] == pytest.approx(table.accuracies(chosen).mean(), abs=0.003)
    row = next(r for r in sel.details["candidates"] if r["strategy"] == chosen)
    assert row["accuracy"] == pytest.approx(twin.accuracies(chosen).mean(), abs=0.003)
    assert abs(row["n_kept"] - 0.3 * ds.n_samples) <= 2


def test_screens_on_fewer_folds_select_only_those_and_the_finalists_get_every_fold(known, monkeypatch):
    """The nested searches screen on 2 inner folds (and the decision too on large data: here forced by a
    small SCREEN_TEST_ROWS); finalists are estimated on every fold; screened-only rows stay finite."""
    import core.search.auto as auto
    from core.search.screening import CandidateTable

    ds, scores, ev = known
    selected = []
    original = CandidateTable.masks

    def masks(self, strategy, folds=None):
        selected.append((id(self), strategy, None if folds is None else tuple(folds)))
        return original(self, strategy, folds)

    monkeypatch.setattr(CandidateTable, "masks", masks)
    monkeypatch.setattr(auto, "SCREEN_TEST_ROWS", 100)
    calls = []
    candidates = ["random", "el2n:low", "el2n:high", "ccs:el2n", "label_noise:low", "label_noise:high",
                  "ccs:label_noise", "loss:low", "loss:high", "knn_density:high"]
    sel = auto_select(ds, scores, 0.3, seed=0, evaluator=ev, candidates=candidates, finalists=3,
                      progress=lambda *a: calls.append(a))
    screen = sel.details["passes"][0]
    assert screen["pass"] == "screen" and screen["folds"] == 2 and screen["candidates"] == len(candidates) - 1
    messages = [m for _, _, m in calls]
    assert any("on 2 of 5 folds" in m for m in messages) and any("on 1 of 4 folds" in m for m in messages)
    assert any(folds == (0, 1) for _, _, folds in selected)
    rows = {r["strategy"]: r for r in sel.details["candidates"]}
    assert set(rows) == set(candidates) and all(np.isfinite(r["accuracy"]) for r in rows.values())
    assert sum(r["estimate"] == "screen only" for r in rows.values()) >= 3
    fractions = [done / total for done, total, _ in calls]
    assert all(b >= a - 1e-9 for a, b in zip(fractions, fractions[1:])) and fractions[-1] == 1.0
    assert sel.details["honest_estimate"]["accuracy"] > 0.5 and len(sel.details["honest_estimate"]["choices"]) == 5
    monkeypatch.setattr(auto, "SCREEN_TEST_ROWS", 20_000)  # the default on small data: nested 2 of 4, decision all
    calls.clear()
    sel = auto_select(ds, scores, 0.3, seed=0, evaluator=ev, candidates=candidates, finalists=3,
                      progress=lambda *a: calls.append(a))
    messages = [m for _, _, m in calls]
    assert sel.details["passes"][0]["folds"] == 5 and not any("of 5 folds" in m for m in messages)
    assert any("on 2 of 4 folds" in m for m in messages)


def test_label_free_scores_join_the_fold_scores_and_label_reading_ones_do_not():
    """Candidates on a label-free score are leak-free with fold-wise scores; a prototypicality by class
    centroid reads the labels, so it is not shared across folds as if it did not."""
    from core.scorers import get_scorer
    from core.search.screening import with_label_free

    ds = load_sample("known_answer")
    ev = LiveEvaluator(ds, folds=5, seed=0)
    kmeans = core.compute_scores(ds, ["label_noise", "prototypicality", "outlier"], seed=0)
    fs = core.workflows.fold_scores_of(ds, kmeans, ev)
    joined = with_label_free(ds, kmeans, fs)
    assert {"prototypicality", "outlier", "outlier_flag"} <= set(joined.frames[0].columns)
    rows = np.flatnonzero(ev.fold_of_row_ != 2)
    assert np.allclose(joined.frames[2]["outlier"].to_numpy(), kmeans["outlier"].to_numpy()[rows])
    assert joined.frames[2].index.equals(fs.frames[2].index)
    centroid = core.compute_scores(ds, ["label_noise", get_scorer("prototypicality")(method="class_centroid")], seed=0)
    joined = with_label_free(ds, centroid, core.workflows.fold_scores_of(ds, centroid, ev))
    assert "prototypicality" not in joined.label_free  # scored per fold (tests/test_reads_labels.py), not shared
    assert not np.allclose(joined.frames[2]["prototypicality"].to_numpy(), centroid["prototypicality"].to_numpy()[rows])
