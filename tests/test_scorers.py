"""Scorers: registry and contract, compute_scores, formulas checked by hand, shared work, common checks."""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np
import pandas as pd
import pytest

from core.data.dataset import Dataset
from core.foundation.errors import Cancelled, ConfigError, LabelError
from core.scorers import DEFAULT_SCORERS, METADATA_KEYS, Scorer, ScoreResult, compute_scores, get_scorer, list_scorers, register, registered_names, unregister
from core.scorers.dynamics import forgetting_counts
from core.scorers.geometry import duplicate_groups, local_outlier_factor, neighbor_cosines
from core.scorers.model import class_thresholds, confident_joint, find_label_issues, label_issue_scores
from core.foundation.neighbors import _torch_search, knn_graph
from core.foundation.linear import fit_softmax_regression, softmax_regression_proba
from core.scorers.oof import OutOfFold, out_of_fold
from core.scorers.valuation import knn_shapley_values

DESIGN_NAMES = [
    "knn_density", "prototypicality", "duplicate", "outlier", "loss", "margin", "entropy",
    "least_confidence", "el2n", "grand", "label_noise", "forgetting", "datamap_confidence",
    "datamap_variability", "aum", "knn_shapley",
]
ALL = registered_names()


def _dataset(counts, n_features=6, seed=0, shift=1.5):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.normal(size=(len(y), n_features)) + shift * y[:, None]
    return Dataset.from_arrays(X, np.array([f"c{c}" for c in range(len(counts))])[y],
                               ids=[f"row{i}" for i in range(len(y))])


@pytest.fixture(scope="module")
def two_classes():
    return _dataset([180, 170], seed=1)


@pytest.fixture(scope="module")
def imbalanced():
    return _dataset([380, 12], seed=2)  # 97 % / 3 %


@pytest.fixture(scope="module")
def scored(two_classes, imbalanced):
    """Every registered scorer on both sets, twice each, without the disk cache."""
    return {
        key: [compute_scores(ds, "all", seed=3, cache=False) for _ in range(2)]
        for key, ds in (("two_classes", two_classes), ("imbalanced", imbalanced))
    }


# ----------------------------------------------------------------------------- registry


def test_every_design_scorer_is_registered_with_complete_metadata():
    assert set(DESIGN_NAMES) <= set(ALL)
    for meta in list_scorers():
        assert set(meta) == set(METADATA_KEYS)
        assert meta["family"] in ("geometry", "model", "dynamics", "valuation")
        assert meta["keep"] in ("high", "low") and meta["cost"] in ("fast", "medium", "slow")
        assert meta["hard"] in ("high", "low")
        assert isinstance(meta["needs_labels"], bool) and isinstance(meta["flags"], bool)
        assert meta["description"] and meta["higher_means"] and "\n" not in meta["description"]
    assert set(DEFAULT_SCORERS) <= set(ALL)
    flagging = {m["name"] for m in list_scorers() if m["flags"]}
    assert {"label_noise", "duplicate", "outlier", "aum"} <= flagging


def test_registering_a_taken_name_raises_and_custom_scorers_work(two_classes):
    with pytest.raises(ValueError, match="already registered"):
        register(type("Again", (get_scorer("el2n"),), {}))

    @register
    class RowNorm(Scorer):
        name = "test_row_norm"
        family = "geometry"
        description = "Norm of the feature vector."
        higher_means = "farther from the origin"
        keep = "high"
        hard = "high"
        needs_labels = False
        flags = False
        cost = "fast"
        defaults = {"power": 2}

        def _compute(self, ds, context):
            return ScoreResult(np.linalg.norm(ds.X, ord=self.power, axis=1))

    try:
        frame = compute_scores(two_classes, ["test_row_norm", RowNorm(power=1)], cache=False)
        assert list(frame.columns) == ["test_row_norm"]  # the same name twice runs once
        with pytest.raises(ConfigError, match="no parameter"):
            RowNorm(exponent=3)
    finally:
        unregister("test_row_norm")


def test_unknown_names_and_bad_options_raise_config_errors(two_classes):
    with pytest.raises(ConfigError, match="Valid scorers are: .*el2n"):
        compute_scores(two_classes, ["el2n", "nope"])
    with pytest.raises(ConfigError):
        compute_scores(two_classes, [])
    with pytest.raises(ConfigError, match="folds"):
        compute_scores(two_classes, ["el2n"], folds=1)
    with pytest.raises(ConfigError, match="proxy model"):
        compute_scores(two_classes, ["el2n"], model="forest")
    with pytest.raises(ConfigError, match="not available"):
        compute_scores(two_classes, ["el2n"], device="tpu")
    one_class = Dataset.from_arrays(np.random.default_rng(0).normal(size=(20, 3)), np.zeros(20))
    with pytest.raises(LabelError, match="two classes"):
        compute_scores(one_class, ["el2n"])
    assert "knn_density" in compute_scores(one_class, ["knn_density"], cache=False)


def test_frame_layout(two_classes):
    frame = compute_scores(two_classes, "el2n, duplicate,label_noise", cache=False)
    assert frame.index.name == "id" and list(frame.index) == list(two_classes.ids)
    assert list(frame.columns) == ["el2n", "duplicate", "duplicate_flag", "duplicate_group",
                                   "label_noise", "label_noise_flag"]
    assert frame["el2n"].dtype == np.float64 and frame["duplicate_flag"].dtype == bool
    assert frame["duplicate_group"].dtype == np.int64
    assert list(compute_scores(two_classes, "default", cache=False).columns[:1]) == [DEFAULT_SCORERS[0]]


# ----------------------------------------------------------------------------- common checks


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("which", ["two_classes", "imbalanced"])
def test_common_checks(scored, which, name, request):
    first, second = scored[which]
    ds = request.getfixturevalue(which)
    values = first[name].to_numpy()
    assert values.shape == (ds.n_samples,) and values.dtype == np.float64
    assert np.isfinite(values).all()
    assert np.unique(values).size > 1, "a score that is constant carries no information"
    pd.testing.assert_frame_equal(first.filter(like=name), second.filter(like=name))  # deterministic
    if get_scorer(name).flags:
        flags = first[f"{name}_flag"].to_numpy()
        assert flags.dtype == bool and flags.mean() < 0.5


@pytest.mark.parametrize("model", ["knn", "mlp"])
def test_other_proxy_models_through_compute_scores(two_classes, model):
    frame = compute_scores(two_classes, ["el2n", "label_noise", "knn_density"], model=model, folds=3, cache=False)
    reference = compute_scores(two_classes, ["el2n"], folds=3, cache=False)
    assert np.isfinite(frame["el2n"]).all() and not np.allclose(frame["el2n"], reference["el2n"])
    assert np.corrcoef(frame["el2n"], reference["el2n"])[0, 1] > 0.5


def test_seed_changes_seeded_scorers_only(two_classes):
    base = compute_scores(two_classes, ["el2n", "knn_density"], seed=0, cache=False)
    other = compute_scores(two_classes, ["el2n", "knn_density"], seed=1, cache=False)
    assert not np.allclose(base["el2n"], other["el2n"])  # other folds
    np.testing.assert_array_equal(base["knn_density"], other["knn_density"])


# ----------------------------------------------------------------------------- model-based formulas


def _oof(p, norms=None):
    p = np.asarray(p, dtype=float)
    return OutOfFold(p, np.zeros(len(p)) if norms is None else np.asarray(norms, float), "logreg", 5)


def test_probability_scorers_match_their_formulas():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [1 / 3, 1 / 3, 1 / 3]])
    y = np.array([0, 1, 2])
    oof = _oof(p, norms=[3.0, 0.0, 1.0])

    def run(name):
        return get_scorer(name)()._from_probabilities(oof, y).scores

    np.testing.assert_allclose(run("loss"), -np.log([0.7, 0.3, 1 / 3]))
    np.testing.assert_allclose(run("margin"), [0.5, 0.3, 0.0], atol=1e-12)  # top-1 minus top-2
    np.testing.assert_allclose(run("least_confidence"), [0.3, 0.4, 2 / 3])
    np.testing.assert_allclose(run("entropy")[2], math.log(3))
    el2n = np.sqrt([0.3**2 + 0.2**2 + 0.1**2, 0.1**2 + 0.7**2 + 0.6**2, (2 / 3) ** 2 + 2 / 9])
    np.testing.assert_allclose(run("el2n"), el2n)
    # GraNd of a softmax layer: ||p - onehot|| * ||[h; 1]||
    np.testing.assert_allclose(run("grand"), el2n * np.sqrt([10.0, 1.0, 2.0]))
    np.testing.assert_allclose(label_issue_scores(p, y), [0.3, 0.7, 2 / 3])  # 1 - p[y]


def test_confident_learning_thresholds_joint_and_flags():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    p1 = np.where(y == 1, rng.uniform(0.7, 0.95, 100), rng.uniform(0.05, 0.3, 100))
    p1[:5] = 0.97  # five rows labelled 0 that the model confidently calls 1
    p = np.column_stack([1 - p1, p1])
    thresholds = class_thresholds(p, y, 2)
    np.testing.assert_allclose(thresholds, [p[y == 0, 0].mean(), p[y == 1, 1].mean()])
    raw = confident_joint(p, y, 2, calibrate=False)
    assert raw[0, 1] == 5 and raw[1, 0] == 0
    joint = confident_joint(p, y, 2)
    np.testing.assert_allclose(joint.sum(axis=1), [50, 50])  # calibrated to the label counts
    assert joint[0, 1] >= 5
    flags = find_label_issues(p, y, 2)
    np.testing.assert_array_equal(np.flatnonzero(flags), np.arange(5))
    assert not flags[p.argmax(axis=1) == y].any()


def test_softmax_regression_matches_scikit_learn():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(600, 8, n_informative=5, n_classes=3, random_state=0)
    weights = fit_softmax_regression(X, y, 3, inverse_regularization=1.0, max_iter=500)
    reference = LogisticRegression(C=1.0, max_iter=2000, tol=1e-8).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(softmax_regression_proba(X, weights), reference, atol=2e-3)


@pytest.mark.parametrize("model", ["logreg", "knn", "mlp"])
def test_out_of_fold_probabilities_are_valid_and_held_out(model, two_classes):
    graph = knn_graph(two_classes.X, 10)
    oof = out_of_fold(two_classes.X, two_classes.y, 2, model=model, folds=3, seed=0, neighbors=graph)
    np.testing.assert_allclose(oof.probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert (oof.probabilities > 0).all() and (oof.feature_norms > 0).all()
    assert (oof.probabilities.argmax(axis=1) == two_classes.y).mean() > 0.8
    # Held-out: an exact copy of a row flipped to the other label cannot be memorised.
    X = np.vstack([two_classes.X, two_classes.X[:1]])
    y = np.r_[two_classes.y, 1 - two_classes.y[0]]
    graph = knn_graph(X, 10)
    probabilities = out_of_fold(X, y, 2, model=model, folds=3, seed=0, neighbors=graph).probabilities
    assert probabilities[-1, y[-1]] < 0.5


# ----------------------------------------------------------------------------- neighbours and geometry


def test_neighbor_graph_is_exact_and_excludes_self(rng):
    X = rng.normal(size=(300, 5)).astype(np.float32)
    X[10] = X[11]  # exact duplicates must still not list themselves
    distances = np.linalg.norm(X[:, None] - X[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    expected = np.sort(distances, axis=1)[:, :7]
    graph = knn_graph(X, 7, chunk_size=64)
    assert not (graph.indices == np.arange(300)[:, None]).any()
    np.testing.assert_allclose(graph.distances, expected, atol=1e-4)
    torch_distances, torch_indices = _torch_search(X, 7, "cpu")(0, 300)
    np.testing.assert_allclose(torch_distances, expected, atol=1e-3)
    assert not (torch_indices == np.arange(300)[:, None]).any()


def test_local_outlier_factor_matches_scikit_learn(rng):
    from sklearn.neighbors import LocalOutlierFactor

    X = np.vstack([rng.normal(size=(200, 3)), [[8.0, 8.0, 8.0]]])
    ours = local_outlier_factor(knn_graph(X, 20))
    reference = -LocalOutlierFactor(n_neighbors=20).fit(X).negative_outlier_factor_
    np.testing.assert_allclose(ours, reference, rtol=1e-4)
    assert ours[-1] > 3 and np.median(ours) < 1.2


def test_duplicates_group_copies_and_flag_all_but_one(rng):
    X = rng.normal(size=(200, 16))
    X[150] = X[3] + 1e-3 * rng.normal(size=16)
    X[151] = X[3] * 1.0001
    X[152] = X[40]  # exact copy
    ds = Dataset.from_arrays(X, rng.integers(0, 2, 200))
    frame = compute_scores(ds, ["duplicate"], cache=False)
    groups = frame["duplicate_group"].to_numpy()
    assert groups[3] == groups[150] == groups[151] == 0 and groups[40] == groups[152] == 1
    assert (groups >= 0).sum() == 5
    np.testing.assert_array_equal(np.flatnonzero(frame["duplicate_flag"]), [150, 151, 152])
    assert frame["duplicate"].iloc[[3, 40, 150, 151, 152]].min() > 0.999
    assert frame["duplicate"].drop(index=[3, 40, 150, 151, 152]).max() < 0.95


def test_duplicate_groups_need_small_distance_not_just_cosine():
    X = np.array([[1.0, 0.0], [1.02, 0.0], [3.0, 0.05], [0.0, 1.0], [0.0, 2.0], [-1.0, -1.0]])
    graph = knn_graph(X, 3)
    groups = duplicate_groups(graph, neighbor_cosines(X, graph.indices), 0.95, 0.2)
    assert groups[0] == groups[1] >= 0
    assert (groups[2:] == -1).all()  # rows 2 and 3-4 share a direction but are far apart


def test_cosines_from_graph_distances_equal_cosines_from_the_rows():
    """The duplicate scorer's law-of-cosines route (norms and the graph's distances) is the dot product's."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 24)).astype(np.float32) + 2.0
    X[10] = X[20] + 1e-4  # a near copy
    X[30] = 0.0  # a zero row: cosine 0
    graph = knn_graph(X, 6)
    from_rows = neighbor_cosines(X, graph.indices)
    from_distances = neighbor_cosines(X, graph.indices, graph.distances)
    np.testing.assert_allclose(from_distances, from_rows, atol=1e-5)
    assert from_distances[10].max() > 0.999999 and not from_distances[30].any()


def test_prototypicality_class_centroid_option_is_distance_to_class_centroid(two_classes):
    scorer = get_scorer("prototypicality")(method="class_centroid")
    frame = compute_scores(two_classes, [scorer], cache=False)
    X, y = two_classes.X.astype(float), two_classes.y
    centroid = X[y == 1].mean(axis=0)
    np.testing.assert_allclose(frame["prototypicality"].to_numpy()[y == 1],
                               np.linalg.norm(X[y == 1] - centroid, axis=1), rtol=1e-6)


# ----------------------------------------------------------------------------- valuation


def _brute_force_shapley(y_train, order, y_test, k):
    """Exact Shapley values of the KNN utility by enumerating permutations (tiny N only)."""
    n = len(y_train)
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)

    def utility(subset):
        nearest = sorted(subset, key=lambda i: rank[i])[:k]
        return sum(y_train[i] == y_test for i in nearest) / k

    values = np.zeros(n)
    permutations = list(itertools.permutations(range(n)))
    for permutation in permutations:
        for position, row in enumerate(permutation):
            before = permutation[:position]
            values[row] += utility(before + (row,)) - utility(before)
    return values / len(permutations)


def test_knn_shapley_recursion_equals_brute_force():
    rng = np.random.default_rng(4)
    n, k = 7, 2
    X = rng.normal(size=(n, 2))
    y = rng.integers(0, 2, n)
    graph = knn_graph(X, n - 1)  # no truncation: exact
    ours = knn_shapley_values(y, graph.indices, k)
    expected = np.zeros(n)
    for test in range(n):
        train = np.delete(np.arange(n), test)
        order = np.argsort(np.linalg.norm(X[train] - X[test], axis=1), kind="stable")
        expected[train] += _brute_force_shapley(y[train], order, y[test], k)
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def test_knn_shapley_truncation_error_is_bounded():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(int)
    graph = knn_graph(X, 119)
    exact = knn_shapley_values(y, graph.indices, 5)
    truncated = knn_shapley_values(y, graph.indices[:, :30], 5)
    # Each of the 120 test points moves a value by at most 1 / K* (Jia et al., Theorem 2).
    assert np.abs(exact - truncated).max() <= 120 / 30
    # Efficiency: exact values add up to the summed leave-one-out k-NN utilities.
    utility = (y[graph.indices[:, :5]] == y[:, None]).mean(axis=1).sum()
    assert exact.sum() == pytest.approx(utility)
    assert np.corrcoef(exact, truncated)[0, 1] > 0.95


# ----------------------------------------------------------------------------- dynamics


def test_forgetting_counts_transitions_and_never_learned():
    correct = np.array([[1, 0, 1, 0], [0, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(forgetting_counts(correct), [2, 0, 4, 0])


def test_training_loop_hooks_are_called_and_global_rng_untouched(two_classes):
    import torch

    from core.foundation.mlp import TrainingHook, train_proxy

    class Counter(TrainingHook):
        wants_batches = True

        def __init__(self):
            self.batches, self.epochs = 0, []

        def after_batch(self, state):
            self.batches += 1
            assert state.batch_logits.shape == (len(state.batch_rows), 2)

        def after_epoch(self, state):
            self.epochs.append(state.logits.copy())

    before = torch.random.get_rng_state().clone()
    hooks = [Counter(), Counter()]
    train_proxy(two_classes.X, two_classes.y, 2, epochs=3, batch_size=100, seed=7, hooks=[hooks[0]])
    train_proxy(two_classes.X, two_classes.y, 2, epochs=3, batch_size=100, seed=7, hooks=[hooks[1]])
    assert torch.equal(before, torch.random.get_rng_state())
    assert hooks[0].batches == 3 * 4 and len(hooks[0].epochs) == 3
    np.testing.assert_array_equal(hooks[0].epochs[-1], hooks[1].epochs[-1])


# ----------------------------------------------------------------------------- shared work, progress, cache


def test_shared_work_is_computed_once(monkeypatch, two_classes):
    import core.scorers.context as context_module

    calls = {"oof": 0, "graph": 0}
    real_oof, real_graph = context_module.out_of_fold, context_module.knn_graph

    def counting_oof(*args, **kwargs):
        calls["oof"] += 1
        return real_oof(*args, **kwargs)

    def counting_graph(*args, **kwargs):
        calls["graph"] += 1
        return real_graph(*args, **kwargs)

    monkeypatch.setattr(context_module, "out_of_fold", counting_oof)
    monkeypatch.setattr(context_module, "knn_graph", counting_graph)
    names = ["knn_density", "duplicate", "outlier", "knn_shapley", "loss", "margin", "entropy",
             "least_confidence", "el2n", "grand", "label_noise"]
    compute_scores(two_classes, names, cache=False)
    assert calls == {"oof": 1, "graph": 1}


def test_progress_cancel_and_cache(monkeypatch, two_classes):
    seen = []
    frame = compute_scores(two_classes, ["knn_density", "el2n"], cache=True,
                           progress=lambda done, total, message: seen.append((done, total, message)))
    assert seen[-1][:2] == (1000, 1000)
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:]))
    # A second call is served from the disk cache: the scorers are not run again.
    monkeypatch.setattr(get_scorer("el2n"), "_compute", lambda *a: pytest.fail("recomputed"))
    monkeypatch.setattr(get_scorer("knn_density"), "_compute", lambda *a: pytest.fail("recomputed"))
    pd.testing.assert_frame_equal(compute_scores(two_classes, ["knn_density", "el2n"], cache=True), frame)
    monkeypatch.undo()

    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        compute_scores(two_classes, ["el2n"], cancel=stop, cache=False)

    # Cancelled mid-way, inside the shared training loop.
    stop = threading.Event()

    def cancel_after_first_report(done, total, message):
        if "proxy training" in message:
            stop.set()

    with pytest.raises(Cancelled):
        compute_scores(two_classes, ["forgetting"], cancel=stop, progress=cancel_after_first_report, cache=False)
