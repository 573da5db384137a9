"""The user's own scikit-learn classifier as the target model (issue 23, item 2: the notebook part)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import core


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def ds():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 80)
    X = rng.normal(size=(240, 5)) + 1.2 * np.eye(3, 5)[y]
    return core.Dataset.from_arrays(X, np.array(["a", "b", "c"])[y])


def _by_hand(ds, mask, estimator, fold_of_row):
    """Fold by fold: a fresh fit on the kept training rows, accuracy on the whole held-out fold."""
    from sklearn.base import clone

    scores = []
    for f in range(int(fold_of_row.max()) + 1):
        train, test = mask & (fold_of_row != f), fold_of_row == f
        model = clone(estimator).fit(ds.X[train], ds.y[train])
        scores.append(np.mean(model.predict(ds.X[test]) == ds.y[test]))
    return np.asarray(scores)


def test_a_random_forest_target_is_trained_per_fold_on_the_kept_rows(ds):
    forest = RandomForestClassifier(n_estimators=20, random_state=0)
    mask = np.random.default_rng(1).random(ds.n_samples) < 0.6
    ev = core.LiveEvaluator(ds, folds=4, seed=0, estimator=forest)
    est = ev.estimate(mask)
    np.testing.assert_allclose(est.fold_accuracies, _by_hand(ds, mask, forest, ev.fold_of_row_))
    assert "RandomForestClassifier" in ev.model_description and "n_estimators=20" in ev.describe()
    assert not hasattr(forest, "estimators_")  # the user's object is never fitted


def test_a_pipeline_like_our_logistic_gives_our_exact_figure(ds):
    mask = np.ones(ds.n_samples, dtype=bool)
    mask[::3] = False
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0))
    theirs = core.evaluate_exact(ds, mask, estimator=pipe, folds=5, seed=0)
    ours = core.evaluate_exact(ds, mask, model="logreg", folds=5, seed=0)
    np.testing.assert_allclose(theirs.fold_accuracies, ours.fold_accuracies)


def test_the_comparison_and_manifest_name_the_target(ds):
    scores = core.compute_scores(ds, ["knn_shapley"], seed=0)
    sel = core.select(ds, scores, "knn_shapley", keep=0.5, seed=0)
    forest = RandomForestClassifier(n_estimators=10, random_state=0)
    block = core.estimate(ds, sel, scores=scores, evaluator=core.LiveEvaluator(ds, estimator=forest))
    assert block["leak_free"] and "RandomForestClassifier" in str(block)
    manifest = core.build_manifest(ds, sel, block, scores)
    assert "RandomForestClassifier" in str(manifest)


@pytest.mark.parametrize("bad, words", [
    (LinearRegression(), "not one"),
    (RandomForestClassifier, "an instance"),
    ("sklearn.ensemble:RandomForestClassifier", "scikit-learn classifier"),
])
def test_what_is_not_a_classifier_is_refused_with_one_clear_error(ds, bad, words):
    with pytest.raises(core.WorkbenchError, match=words):
        core.LiveEvaluator(ds, estimator=bad)
    with pytest.raises(core.WorkbenchError, match=words):
        core.evaluate_exact(ds, np.ones(ds.n_samples, bool), estimator=bad)


# ----------------------------------------------------------------------------- the CLI's module:Class target

@pytest.fixture()
def table(tmp_path, ds):
    import pandas as pd

    path = tmp_path / "data.csv"
    pd.DataFrame(ds.X, columns=[f"f{i}" for i in range(ds.n_features)]).assign(label=ds.classes[ds.y]).to_csv(
        path, index=False)
    return path


def _select(table, *extra):
    from core.cli import main

    out, manifest = table.parent / "kept.csv", table.parent / "kept.json"
    code = main(["select", str(table), "--label", "label", "--strategy", "random", "--keep", "0.5",
                 "--out", str(out), "--manifest", str(manifest), "--quiet", *extra])
    return code, out, manifest


def test_cli_takes_a_classifier_as_module_class_with_json_params(table):
    import json

    code, out, manifest = _select(table, "--eval-model", "sklearn.ensemble:RandomForestClassifier",
                                  "--eval-params", '{"n_estimators": 15, "random_state": 0}')
    assert code == 0 and out.exists()
    assert "RandomForestClassifier(n_estimators=15, random_state=0)" in json.dumps(json.loads(manifest.read_text()))


@pytest.mark.parametrize("model, params, words", [
    ("no_such_module_xyz:Model", None, "Cannot import"),
    ("sklearn.ensemble:NoSuchForest", None, "has no 'NoSuchForest'"),
    ("sklearn.linear_model:LinearRegression", None, "not one"),
    ("sklearn.ensemble:RandomForestClassifier", "[1, 2]", "JSON object"),
    ("sklearn.ensemble:RandomForestClassifier", '{"trees": 3}', "does not take these parameters"),
    ("logreg", '{"C": 2}', "goes with a module:Class"),
])
def test_cli_refuses_a_bad_target_in_one_line(table, capsys, model, params, words):
    code, out, manifest = _select(table, "--eval-model", model, *(["--eval-params", params] if params else []))
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not manifest.exists()
