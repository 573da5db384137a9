"""The user's own target model in the app (issue 23, item 2): Tune's ``module:Class`` option, the operator's
gate, which figure is live (the estimator itself, or ours with its measured rank agreement), the exact
figure computed in the background, and the manifest's record of the target."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest

os.environ["WORKBENCH_UMAP"] = "off"
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.naive_bayes import GaussianNB  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

import core  # noqa: E402
from core.evaluation import measure_agreement, panel_strategies, rank_agreement  # noqa: E402
from core.selection import score_names  # noqa: E402
from workbench import settings, target_form  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "workbench" / "app.py")
PATIENCE = 600
CHEAP = ["knn_density", "margin", "label_noise"]
NB = "sklearn.naive_bayes:GaussianNB"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))


def _serve(monkeypatch, address, **env):
    for name in ("WORKBENCH_SERVER_MODE", "WORKBENCH_LOCAL_FILES", "WORKBENCH_TARGETS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(settings, "bound_address", lambda: address)
    settings.operator.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_operator():
    settings.operator.cache_clear()
    yield
    settings.operator.cache_clear()


# ------------------------------------------------------------------------------ core: the agreement
def test_rank_agreement_reads_order_and_refuses_a_constant():
    assert rank_agreement([0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.9]) == {"spearman": 1.0, "kendall": 1.0, "n": 4}
    assert rank_agreement([0.1, 0.2, 0.3, 0.4], [0.9, 0.7, 0.6, 0.5])["spearman"] == -1.0
    assert math.isnan(rank_agreement([0.5, 0.5, 0.5], [0.1, 0.2, 0.3])["spearman"])


def test_a_model_agrees_with_itself_and_the_rows_are_its_real_figures():
    ds = core.load_sample("known_answer")
    scores = core.compute_scores(ds, ["knn_density"], seed=0)
    masks = {(keep, s): core.select(ds, scores, s, keep=keep, seed=0).mask
             for keep in (0.1, 0.3) for s in core.evaluation.panel_strategies(["knn_density"])}
    ours = core.LiveEvaluator(ds, exact=True)  # scikit-learn's logistic regression, trained per fold
    same = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0))
    found = measure_agreement(ours, same, masks)
    assert found["spearman"] == pytest.approx(1.0) and found["faithful"]
    assert set(found["by_keep"]) == {0.1, 0.3} and len(found["rows"]) == 8
    row = found["rows"][-1]
    by_hand = core.evaluate_exact(ds, masks[(row["keep"], row["strategy"])], estimator=same)
    assert row["exact"] == pytest.approx(by_hand.accuracy)


# --------------------------------------------------------------------------------- the operator's gate
def test_any_name_on_loopback_only_listed_names_when_served(monkeypatch):
    _serve(monkeypatch, "127.0.0.1")
    assert settings.targets_offered() and settings.target_refusal("anything:AtAll") is None
    _serve(monkeypatch, "0.0.0.0")
    assert not settings.targets_offered()
    assert "WORKBENCH_TARGETS" in settings.target_refusal(NB)
    _serve(monkeypatch, "0.0.0.0", WORKBENCH_TARGETS=f"{NB}, sklearn.svm:SVC")
    assert settings.targets_offered() and settings.target_refusal(NB) is None
    assert "sklearn.svm:SVC" in settings.target_refusal("os:system")
    _serve(monkeypatch, "127.0.0.1", WORKBENCH_SERVER_MODE="1")
    assert settings.target_refusal(NB) is not None
    _serve(monkeypatch, "0.0.0.0", WORKBENCH_TARGETS="*")
    assert settings.target_refusal("anything:AtAll") is None


# ---------------------------------------------------------------------------------------- the app
def _run(at):
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _wait(at, *names, timeout=PATIENCE):
    deadline = time.time() + timeout
    while any(name in at.session_state["jobs"] for name in names):
        assert time.time() < deadline, f"jobs {names} did not finish in {timeout} s"
        time.sleep(0.3)
        _run(at)


def _tune(at):
    at.switch_page("../pages/tune.py")
    return _run(at)


def _name_target(at, text, params=""):
    at.text_input(key="tune_target_text").set_value(text)
    at.text_input(key="tune_target_params").set_value(params)
    at.button(key="tune_target_use").click()
    return _run(at)


@pytest.fixture(scope="module")
def scored():
    settings.operator.cache_clear()
    at = AppTest.from_file(APP, default_timeout=PATIENCE)
    _run(at)
    at.switch_page("../pages/scores.py")
    _run(at)
    for box in at.checkbox:
        if box.key and box.key.startswith("scores_pick_"):
            box.set_value(box.key.removeprefix("scores_pick_") in CHEAP)
    _run(at)
    at.button(key="scores_compute").click()
    _run(at)
    _wait(at, "scores")
    return at


@pytest.mark.parametrize("text, params, words", [
    ("no_such_module_here:Model", "", "Cannot import"),
    ("sklearn.linear_model:LinearRegression", "", "not one"),
    ("sklearn.ensemble", "", "module:Class"),
    (NB, "[1, 2]", "JSON object"),
    (NB, '{"no_such_parameter": 1}', "does not take"),
    (NB, '{"var_smoothing": -1.0}', "'var_smoothing' parameter"),  # scikit-learn's own check, before any fit
])
def test_a_bad_target_is_refused_in_one_line_and_nothing_changes(scored, text, params, words):
    at = _tune(scored)
    _name_target(at, text, params)
    assert [e.value for e in at.error if words in e.value], [e.value for e in at.error]
    assert all("\n" not in e.value for e in at.error)
    assert at.session_state["own_target"] is None


def test_a_target_whose_fit_fails_on_the_data_says_so_and_starts_nothing_else(scored):
    at = _tune(scored)
    # valid parameters that this data cannot serve: more neighbours than a fold's rows
    _name_target(at, "sklearn.neighbors:KNeighborsClassifier", '{"n_neighbors": 1000000}')
    _wait(at, target_form.TRIAL_JOB)
    assert any("could not be trained on this data" in e.value and "n_neighbors" in e.value for e in at.error)
    assert not any(name in at.session_state["jobs"] for name in (target_form.AGREEMENT_JOB, target_form.EXACT_JOB))
    assert "Estimate: your estimator" not in " ".join(c.value for c in at.caption)
    at.button(key="tune_target_clear").click()
    _run(at)


def test_a_fast_target_is_the_live_figure_itself_and_the_manifest_records_it(scored):
    at = _tune(scored)
    _name_target(at, NB)
    _wait(at, target_form.TRIAL_JOB)
    assert any("GaussianNB itself" in s.value for s in at.success), [s.value for s in at.success]
    assert any("Estimate: your estimator GaussianNB()" in c.value for c in at.caption)
    ds = at.session_state["dataset"]
    full = core.LiveEvaluator(ds, estimator=GaussianNB()).full().accuracy
    assert [m for m in at.metric if f"{full:.1%}" in m.value]  # the full-data card is the estimator's own figure
    at.switch_page("../pages/export.py")
    _run(at)
    _wait(at, "fold_scores", "random_reference")
    manifest = json.loads(at.session_state["memo"]["export_files"][1]["manifest"])
    target = manifest["estimate"]["target"]
    assert target["model"] == NB and target["params"] == {} and target["live_figure"] == "the estimator itself"
    assert "GaussianNB" in manifest["estimate"]["selection"]["model"]
    _tune(at).button(key="tune_target_clear").click()
    _run(at)
    assert at.session_state["own_target"] is None


def test_a_slow_target_shows_the_measured_agreement_and_its_exact_figure_beside(scored, monkeypatch):
    monkeypatch.setattr(target_form, "LIVE_SECONDS", -1.0)  # every estimator counts as too slow for a slider
    at = _tune(scored)
    at.selectbox(key="tune_kind").set_value("top").run()
    at.selectbox(key="tune_scorer").set_value("knn_density").run()
    _name_target(at, NB, '{"var_smoothing": 1e-8}')
    _wait(at, target_form.TRIAL_JOB, target_form.AGREEMENT_JOB, target_form.EXACT_JOB, "fold_scores")
    _wait(at, target_form.EXACT_JOB)
    words = " ".join(m.value for m in list(at.success) + list(at.info))
    assert "Spearman" in words and "Kendall" in words and "strategies at keep 0.1 and 0.3" in words
    assert ("proven faithful" in words) or ("unproven" in words)
    assert "Estimate: your estimator" not in " ".join(c.value for c in at.caption)  # ours stays live
    shown = " ".join(m.value for m in list(at.success) + list(at.info) + list(at.warning) + list(at.error))
    if "unproven" in words:  # the verdict then comes from the estimator's own exact figures, never from ours
        assert f"For {NB}" in shown or f"No verdict for {NB}" in shown
    ds, table = at.session_state["dataset"], at.session_state["score_table"]
    results = at.session_state["own_target_results"]
    found = next(v["result"] for k, v in results.items() if k[0] == "agreement" and k[2][0] == NB)
    computed = score_names(table.columns)  # the three cheap scorers, or more when a shared cache held them
    assert len(computed) >= 3
    assert {r["strategy"] for r in found["rows"]} == set(panel_strategies(computed))  # random + each x (high, low, ccs)
    estimator = GaussianNB(var_smoothing=1e-8)
    row = next(r for r in found["rows"] if r["strategy"] == "random" and r["keep"] == 0.3)
    mask = core.select(ds, table, "random", keep=0.3, seed=0).mask
    assert row["exact"] == pytest.approx(core.evaluate_exact(ds, mask, estimator=estimator).accuracy)
    ended = [v for k, v in results.items() if k[0] == "exact" and k[2] == (NB, '{"var_smoothing": 1e-8}')]
    assert [v["status"] for v in ended] == ["done"], [(v["status"], v["error"]) for v in ended]
    figures = ended[0]["result"]
    assert figures["Full data"].accuracy == pytest.approx(core.LiveEvaluator(ds, estimator=estimator).full().accuracy)
    frame = next(d.value for d in at.dataframe if "your estimator (exact)" in d.value.columns)
    assert list(frame.index) == ["Pruned", "Full data", "Random, same size"]
    assert frame.loc["Full data", "your estimator (exact)"] == f"{figures['Full data'].accuracy:.1%}"
    at.checkbox(key=target_form.ITSELF).check()  # the user takes the slow estimator itself as the live figure
    _run(at)
    assert any("Estimate: your estimator GaussianNB(var_smoothing=1e-08)" in c.value for c in at.caption)
    assert any("as you chose" in s.value for s in at.success)


def test_a_served_app_without_a_list_offers_no_target_and_says_why(monkeypatch):
    _serve(monkeypatch, "0.0.0.0")
    at = AppTest.from_file(APP, default_timeout=PATIENCE)
    _tune(_run(at))
    assert not [t for t in at.text_input if t.key == "tune_target_text"]
    assert any("WORKBENCH_TARGETS" in i.value for i in at.info)


def test_a_served_app_takes_only_the_listed_targets(monkeypatch):
    _serve(monkeypatch, "0.0.0.0", WORKBENCH_TARGETS=NB)
    at = AppTest.from_file(APP, default_timeout=PATIENCE)
    _tune(_run(at))
    _name_target(at, "sklearn.ensemble:RandomForestClassifier")
    assert any("not allowed here" in e.value for e in at.error)
    assert at.session_state["own_target"] is None
    _name_target(at, NB)
    assert at.session_state["own_target"]["text"] == NB
    _wait(at, target_form.TRIAL_JOB)
    assert np.isfinite(next(iter(at.session_state["own_target_results"].values()))["result"][0])
