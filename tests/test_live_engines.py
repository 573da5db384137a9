"""The live logistic engine stays scikit-learn's model while it gets faster, and Tune's slider only
waits for the selection's own figure.

- :func:`core.evaluation.logistic.minimise` (L-BFGS seeded with a neighbouring fit's memory)
  stops on scikit-learn's rule and lands on the same optimum as a fresh start;
- folds fitted side by side give exactly the folds fitted one by one, and the process's BLAS
  thread limit is the same afterwards;
- the random reference is peeked without computing (``random_if_ready``);
- on Tune, a move above ``INLINE_ROWS`` shows the nearest random reference at once and the exact
  one after its background job; the next move cancels a job left for an old size.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

os.environ["WORKBENCH_UMAP"] = "off"

import core  # noqa: E402
from core.evaluation import LiveEvaluator, evaluate_exact  # noqa: E402
from core.evaluation import engines  # noqa: E402
from core.evaluation.logistic import TOLERANCE, FoldLogistic, minimise, objective  # noqa: E402

APP = str(Path(__file__).resolve().parent.parent / "workbench" / "app.py")


def blobs(rows: int, features: int = 12, classes: int = 4, seed: int = 0) -> core.Dataset:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.2, (classes, features))
    y = rng.integers(0, classes, rows)
    X = centres[y] + rng.normal(0, 1.5, (rows, features))
    y = np.where(rng.random(rows) < 0.05, rng.integers(0, classes, rows), y)
    return core.Dataset.from_arrays(X.astype(np.float32), y)


def test_seeded_memory_reaches_the_same_optimum_as_a_fresh_start():
    ds = blobs(3000)
    model = FoldLogistic(ds.X, ds.y, ds.n_classes)
    rows_a, rows_b = np.arange(0, 2000), np.arange(50, 2050)  # neighbouring kept rows
    classes = np.arange(ds.n_classes)
    size = ds.n_features * ds.n_classes + ds.n_classes
    first = model.problem(rows_a, classes)
    theta_a, pairs, converged, _ = minimise(lambda t: objective(t, first), np.zeros(size), [])
    assert converged and pairs
    second = model.problem(rows_b, classes)
    seeded, _, converged_seeded, _ = minimise(lambda t: objective(t, second), theta_a, pairs)
    fresh, _, converged_fresh, _ = minimise(lambda t: objective(t, second), np.zeros(size), [])
    assert converged_seeded and converged_fresh
    assert np.max(np.abs(objective(seeded, second)[1])) <= TOLERANCE  # scikit-learn's stopping rule
    loss_seeded, loss_fresh = objective(seeded, second)[0], objective(fresh, second)[0]
    assert abs(loss_seeded - loss_fresh) <= 1e-6
    assert np.max(np.abs(seeded - fresh)) <= 0.05 * np.max(np.abs(fresh))


def test_preconditioned_fit_reaches_the_plain_optimum_in_far_fewer_evaluations():
    """On a nearly low-rank table (benchmarks/gen_partitioned.py's kind: 40 components in 16 latent
    dimensions mixed into 128 columns) whitening the weights changes the path, not the optimum: the same
    loss and predictions in a fraction of the evaluations (148 plain, 38 whitened when written)."""
    rng = np.random.default_rng(7)
    component = rng.integers(0, 40, 4000)
    latent = (rng.normal(size=(40, 16)) * 2.0)[component] + rng.normal(size=(4000, 16))
    X = (latent @ (rng.normal(size=(16, 128)) / 4.0) + 0.1 * rng.normal(size=(4000, 128))).astype(np.float32)
    model = FoldLogistic(X, component % 10, 10)
    pre = model.preconditioner_
    u = rng.normal(size=128 * 10 + 10)
    np.testing.assert_allclose(pre.coordinates(pre.weights(u)), u, atol=1e-8)
    rows = np.arange(3200)
    problem = model.problem(rows, np.arange(10))
    plain, _, plain_converged, plain_evaluations = minimise(lambda t: objective(t, problem), np.zeros(u.size), [])
    weights, offset, _ = model.fit(0, rows)
    assert plain_converged
    W = plain[:1280].reshape(128, 10)
    plain_weights = (W / problem.sd[:, None]).astype(np.float32)
    plain_offset = (plain[1280:] - (problem.mu / problem.sd) @ W).astype(np.float32)
    X_ = model.X_[rows]
    assert ((X_ @ weights + offset).argmax(axis=1) == (X_ @ plain_weights + plain_offset).argmax(axis=1)).mean() > 0.995
    # both stop on scikit-learn's rule (largest gradient entry <= 1e-4): the same optimum to that tolerance
    loss = objective(plain, problem)[0]
    assert abs(objective(pre.weights(model.warm_[0][-1][2]), problem)[0] - loss) <= 1e-5 * loss
    assert model.evaluations_ * 3 <= plain_evaluations, (model.evaluations_, plain_evaluations)


def test_the_objective_gradient_matches_finite_differences():
    ds = blobs(500, features=5, classes=3)
    model = FoldLogistic(ds.X, ds.y, ds.n_classes)
    problem = model.problem(np.arange(400), np.arange(3))
    theta = np.random.default_rng(1).normal(0, 0.3, 5 * 3 + 3)
    _, grad = objective(theta, problem)
    step = 1e-3
    numeric = [(objective(theta + step * e, problem)[0] - objective(theta - step * e, problem)[0]) / (2 * step)
               for e in np.eye(len(theta))]
    assert np.allclose(grad, numeric, atol=2e-4)


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [info.get("num_threads") for info in threadpool_info() if info.get("user_api") == "blas"]


def test_folds_fitted_side_by_side_equal_folds_fitted_one_by_one(monkeypatch):
    ds = blobs(4000)
    score = np.random.default_rng(2).random(ds.n_samples)
    masks = [score < keep for keep in (0.6, 0.55, 0.3)]
    parallel = LiveEvaluator(ds, folds=5, seed=0)
    threads_before = _blas_threads()
    side_by_side = [parallel.estimate(m).fold_accuracies for m in masks]
    assert set(_blas_threads()) == set(threads_before)  # the one-thread limit was restored
    monkeypatch.setattr(engines.os, "sched_getaffinity", lambda pid: {0})  # one core: no prefetch
    sequential = LiveEvaluator(ds, folds=5, seed=0)
    one_by_one = [sequential.estimate(m).fold_accuracies for m in masks]
    assert side_by_side == one_by_one


def test_live_logistic_stays_within_half_a_point_of_scikit_learn_on_random_references():
    """The random references warm-start from each other's sizes; each still equals a fresh fit."""
    ds = blobs(3000, features=16, classes=5, seed=3)
    ev = LiveEvaluator(ds, folds=5, seed=0)
    for n_kept in (2100, 2070, 900):
        ev.random(n_kept, repeats=2)
    for mask in ev.random_masks(900, repeats=2):
        live = ev.estimate(mask)
        exact = evaluate_exact(ds, mask, "logreg", folds=5, seed=0)
        assert abs(live.accuracy - exact.accuracy) <= 0.005


def test_random_if_ready_never_computes():
    ds = blobs(1500)
    ev = LiveEvaluator(ds, folds=5, seed=0, model="ridge")
    assert ev.random_if_ready(1000) is None and ev.random_if_ready(1000, nearest=True) is None
    computed = ev.random(1000)
    assert ev.random_if_ready(1000).accuracy == computed.accuracy
    assert ev.random_if_ready(700) is None
    nearest = ev.random_if_ready(700, nearest=True)
    assert nearest.n_kept == 1000 and nearest.accuracy == computed.accuracy


def _rows_kept(at) -> str:
    return next(m.value for m in at.metric if m.label.startswith("Rows kept"))


def _random_card(at) -> str:
    return next(m.value for m in at.metric if m.label.startswith("Random"))


@pytest.fixture()
def tune_app():
    from streamlit.testing.v1 import AppTest

    from workbench.estimates import INLINE_ROWS

    ds = blobs(INLINE_ROWS + 1000, features=16)
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["dataset"] = ds
    at.session_state["origin"] = "Synthetic"
    at.session_state["preloaded"] = True
    at.run()
    at.switch_page("../pages/tune.py").run()
    assert not at.exception, at.exception
    yield at
    for job in list(at.session_state["jobs"].values()):
        job.cancel()
        job.wait(60)


def _settle(at, name: str = "random_reference"):
    """Wait for job ``name`` if the run left one (a quick one is settled by its panel in the same run)."""
    job = at.session_state["jobs"].get(name)
    if job is not None:
        assert job.wait(120)
        at.run()
    return job


def test_a_move_shows_the_exact_random_reference_once_its_job_is_done(tune_app):
    at = tune_app
    ds = at.session_state["dataset"]
    at.slider(key="tune_keep").set_value(50).run()
    assert not at.exception, at.exception
    n_kept = int(round(0.5 * ds.n_samples))
    assert _rows_kept(at) == f"{n_kept:,}"
    job = at.session_state["jobs"].get("random_reference")
    if job is not None:  # still running: the card holds an interpolated or another size's figure, and says so
        assert f"{n_kept:,} rows" in job.label
        if job.running:
            assert any(word in m.label for m in at.metric for word in ("interpolated", "updating", "computing")), \
                [m.label for m in at.metric]
            assert any("being computed" in box.value for box in at.info)  # no verdict against another size
    _settle(at)
    assert "random_reference" not in at.session_state["jobs"]
    exact = LiveEvaluator(ds, folds=5, seed=0).random(n_kept, repeats=5).accuracy
    assert abs(float(_random_card(at).rstrip("%")) / 100 - exact) <= 0.002


def test_the_next_move_cancels_the_random_job_of_an_old_size(tune_app):
    at = tune_app
    ds = at.session_state["dataset"]
    at.slider(key="tune_keep").set_value(30).run()
    stale = at.session_state["jobs"].get("random_reference")
    at.slider(key="tune_keep").set_value(31).run()
    assert not at.exception, at.exception
    if stale is not None:
        assert stale.wait(60)
        assert stale.status == "done" or stale.cancel_event.is_set()
    current = _settle(at)
    if current is not None:
        assert f"{int(round(0.31 * ds.n_samples)):,} rows" in current.label and current.status == "done"
    assert _rows_kept(at) == f"{int(round(0.31 * ds.n_samples)):,}"


def test_a_column_constant_among_the_kept_rows_is_left_unscaled():
    """A rare feature absent from every kept row must not be blown up by a rounding-noise spread."""
    ds = blobs(2000, features=6)
    X = ds.X.copy()
    X[:, 0] = np.where(np.arange(2000) < 1900, 3.7, 11.0)  # constant on the first 1900 rows only
    model = FoldLogistic(X, ds.y, ds.n_classes)
    problem = model.problem(np.arange(1900), np.arange(ds.n_classes))
    assert problem.sd[0] == 1.0 and np.all(problem.sd[1:] != 1.0)
    assert np.allclose(problem.sd[1:], model.X_[:1900, 1:].astype(np.float64).std(axis=0), rtol=1e-4)


def test_a_cancelled_fit_stops_and_leaves_no_warm_start():
    import threading

    from core.foundation.errors import Cancelled

    ds = blobs(1000)
    model = FoldLogistic(ds.X, ds.y, ds.n_classes)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        model.fit(0, np.arange(800), cancel=stop)
    assert not model.warm_.get(0)  # an unfinished fit never seeds the next one
    model.fit(0, np.arange(800))
    assert len(model.warm_[0]) == 1


def test_label_free_scores_are_split_per_fold_once_with_the_same_masks():
    from core.evaluation import fold_masks, selection_estimate
    from core.evaluation.comparison import _label_free_splits

    ds = blobs(2500)
    scores = core.compute_scores(ds, ["knn_density"], seed=0)
    ev = LiveEvaluator(ds, folds=5, seed=0)
    sel = core.select(ds, scores, strategy="knn_density", keep=0.4, seed=0)
    est, leak_free, _ = selection_estimate(ds, sel, scores=scores, evaluator=ev)
    split = _label_free_splits(ds, scores, ev)
    assert _label_free_splits(ds, scores, ev) is split  # made once per table and evaluator
    plain, _ = fold_masks(ds, "knn_density", scores=scores, fold_of_row=ev.fold_of_row_, keep=0.4)
    assert leak_free and est.fold_accuracies == ev.estimate_folds(plain).fold_accuracies
    other = core.compute_scores(ds, ["knn_density"], seed=0).copy()
    assert _label_free_splits(ds, other, ev) is not split  # a new table is split anew


def test_a_ranking_kept_between_moves_is_the_fresh_ranking():
    from core.selection import algorithms

    rng = np.random.default_rng(5)
    values = np.round(rng.normal(size=3000), 1)  # many ties: the seeded tie-break matters
    values[::17] = np.nan
    fresh = lambda v, seed: np.lexsort((algorithms.random_priority(len(v), seed),  # noqa: E731
                                        -np.where(np.isnan(v), -np.inf, v)))
    first = algorithms.priority_order(values, 3)
    again = algorithms.priority_order(values.copy(), 3)
    assert again is first and np.array_equal(first, fresh(values, 3))
    assert not first.flags.writeable  # the kept ranking cannot be changed by a caller
    assert np.array_equal(algorithms.priority_order(values, 4), fresh(values, 4))
    changed = values.copy()
    changed[1] = 99.0
    assert algorithms.priority_order(changed, 3)[0] == 1
    assert np.array_equal(algorithms.priority_order(changed, 3), fresh(changed, 3))


def test_the_first_open_of_tune_does_not_wait_for_the_random_reference(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from workbench import jobs
    from workbench.estimates import INLINE_ROWS, RANDOM_JOB

    started = []
    start = jobs.start
    monkeypatch.setattr(jobs, "start", lambda name, *a, **k: (started.append(name), start(name, *a, **k))[1])
    ds = blobs(INLINE_ROWS + 1000, features=16, seed=11)  # data of its own: no evaluator (nor reference) cached
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["dataset"], at.session_state["origin"], at.session_state["preloaded"] = ds, "Synthetic", True
    at.run()
    at.switch_page("../pages/tune.py").run()
    try:
        assert not at.exception, at.exception
        assert RANDOM_JOB in started  # the first reference is a background job, not computed in the page's run
        job = at.session_state["jobs"].get(RANDOM_JOB)
        if job is not None and job.running:  # the card and the verdict wait for it
            assert _random_card(at) == "…" and any("being computed" in box.value for box in at.info)
        _settle(at)
        n_kept = int(_rows_kept(at).replace(",", ""))
        exact = LiveEvaluator(ds, folds=5, seed=0).random(n_kept, repeats=5).accuracy
        assert abs(float(_random_card(at).rstrip("%")) / 100 - exact) <= 0.002
    finally:
        for job in list(at.session_state["jobs"].values()):
            job.cancel()
            job.wait(60)
