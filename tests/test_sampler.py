"""core.Pruner: the workbench as an imbalanced-learn sampler inside scikit-learn pipelines (issue 23)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, PredefinedSplit, cross_validate
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_checks

import core
from core.cli import main
from core import Pruner

imblearn_pipeline = pytest.importorskip("imblearn.pipeline")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(600, 8, n_informative=5, n_classes=3, flip_y=0.1, random_state=1)
    return X, y


def _logistic():
    # the settings of the workbench's logistic target (core/evaluation/models.py): L2, C=1, standardised features
    return [StandardScaler(), LogisticRegression(max_iter=1000, C=1.0)]


# ----------------------------------------------------------------------------- scikit-learn's contract

@pytest.mark.parametrize("check", [
    estimator_checks.check_no_attributes_set_in_init,
    estimator_checks.check_get_params_invariance,
    estimator_checks.check_set_params,
    estimator_checks.check_parameters_default_constructible,
])
def test_sklearn_parameter_checks(check):
    check("Pruner", Pruner())


def test_clone_and_params_round_trip():
    pruner = Pruner("ccs:knn_shapley", keep=0.2, seed=3, folds=4)
    copy = clone(pruner)
    assert copy is not pruner and copy.get_params() == pruner.get_params()
    copy.set_params(keep=0.5, strategy="random")
    assert (copy.keep, copy.strategy) == (0.5, "random") and pruner.keep == 0.2
    assert set(pruner.get_params()) >= {"strategy", "keep", "threshold", "scorers", "seed", "folds"}


def test_fit_leaves_params_alone_and_keeps_types(data):
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])], index=np.arange(100, 100 + len(X)))
    labels = pd.Series(np.array(["cat", "dog", "eel"])[y], index=frame.index, name="animal")
    pruner = Pruner("ccs:knn_shapley", keep=0.3, seed=0)
    before = pruner.get_params()
    X_res, y_res = pruner.fit_resample(frame, labels)
    assert pruner.get_params() == before
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list(frame.columns)
    assert isinstance(y_res, pd.Series) and y_res.name == "animal" and set(y_res) <= {"cat", "dog", "eel"}
    assert len(X_res) == len(y_res) == pruner.selection_.n_kept == round(0.3 * len(X))
    assert list(X_res.index) == list(frame.index[pruner.sample_indices_])
    assert (y_res.to_numpy() == labels.to_numpy()[pruner.sample_indices_]).all()
    assert list(pruner.scores_.columns)[:1] == ["knn_shapley"]
    # ndarray in, ndarray out
    X_arr, y_arr = clone(pruner).fit_resample(X, y)
    assert isinstance(X_arr, np.ndarray) and np.array_equal(X_arr, X_res.to_numpy())


@pytest.mark.parametrize("params, words", [
    ({"keep": 1.5}, "keep must be a fraction"),
    ({"strategy": "nonsense:el2n"}, "not valid"),
    ({"strategy": 3}, "strategy must be a strategy text"),
    ({"folds": 1}, "folds must be at least 2"),
    ({"seed": "zero"}, "seed must be an integer"),
])
def test_bad_params_one_clear_error(data, params, words):
    X, y = data
    with pytest.raises(core.WorkbenchError, match=words):
        Pruner(**params).fit_resample(X, y)


def test_bad_data_one_clear_error(data):
    X, y = data
    holed = X.copy()
    holed[0, 0] = np.nan
    with pytest.raises(core.WorkbenchError, match="finite"):
        Pruner("random").fit_resample(holed, y)
    with pytest.raises(core.WorkbenchError, match="two classes"):
        Pruner("random").fit_resample(X, np.zeros(len(X)))


# ----------------------------------------------------------------------------- inside a pipeline

@pytest.mark.parametrize("strategy, keep", [("ccs:knn_shapley", 0.3), ("knn_shapley", 0.5)])
def test_cross_validate_agrees_with_the_leak_free_estimate(data, strategy, keep):
    """Same folds, same recipe: the pipeline's CV accuracy is the workbench's leak-free figure."""
    X, y = data
    ds = core.Dataset.from_arrays(X, y)
    evaluator = core.LiveEvaluator(ds, folds=5, seed=0)
    scores = core.compute_scores(ds, ["knn_shapley"], seed=0)
    sel = core.select(ds, scores, strategy, keep=keep, seed=0)
    ours = core.estimate(ds, sel, scores=scores, evaluator=evaluator)
    assert ours["leak_free"]
    pipe = imblearn_pipeline.make_pipeline(Pruner(strategy, keep=keep, seed=0), *_logistic())
    theirs = cross_validate(pipe, X, y, cv=PredefinedSplit(evaluator.fold_of_row_))["test_score"].mean()
    assert abs(100 * (theirs - ours["selection"]["accuracy"])) <= 0.1


def test_grid_search_tunes_keep_and_strategy(data):
    X, y = data
    pipe = imblearn_pipeline.make_pipeline(Pruner(seed=0), *_logistic())
    grid = {"pruner__keep": [0.2, 0.6], "pruner__strategy": ["random", "knn_shapley"]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["pruner__keep"] in (0.2, 0.6)
    fitted = search.best_estimator_.named_steps["pruner"]
    assert fitted.selection_.n_kept == round(search.best_params_["pruner__keep"] * len(X))
    # the tuned pipeline predicts without pruning at predict time
    assert len(search.predict(X)) == len(X)


@pytest.mark.slow
def test_auto_runs_a_nested_search(data):
    X, y = data
    pruner = Pruner("auto", keep=0.3, seed=0, folds=3)
    X_res, _ = pruner.fit_resample(X, y)
    assert pruner.selection_.resolved_strategy != "auto" and len(X_res) == round(0.3 * len(X))
    assert pruner.selection_.details  # auto's candidate table


def test_threshold_and_flag_strategies(data):
    X, y = data
    X = np.vstack([X, X[:30]])  # 30 exact copies
    y = np.concatenate([y, y[:30]])
    pruner = Pruner("drop-flagged:duplicate", keep=None)
    X_res, _ = pruner.fit_resample(X, y)
    assert len(X_res) == len(X) - 30


# ----------------------------------------------------------------------------- the recipe as a manifest

def test_manifest_reapplied_by_workbench_apply(data, tmp_path):
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    pruner = Pruner("ccs:knn_shapley", keep=0.3, seed=0)
    X_res, _ = pruner.fit_resample(frame, y)
    with pytest.raises(core.WorkbenchError, match="Fit the Pruner first"):
        Pruner().manifest_()
    document = pruner.manifest_(tmp_path / "recipe.json")
    assert document["strategy"] == "ccs:knn_shapley" and document["sampler"]["params"]["keep"] == 0.3
    frame.assign(label=y).to_csv(tmp_path / "data.csv", index=False)
    out = tmp_path / "kept.csv"
    assert main(["apply", str(tmp_path / "recipe.json"), str(tmp_path / "data.csv"), "--out", str(out),
                 "--force"]) == 0
    kept = pd.read_csv(out)
    assert np.allclose(kept[frame.columns].to_numpy(), X_res.to_numpy())
