"""MLflow tracking: a selection logged to a local store is a run with the params, metrics and artifacts."""

from __future__ import annotations

import json

import pytest

import core
from core.foundation.errors import ConfigError
from core.outputs import tracking
from core.outputs.manifest import manifest_document

@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    ds = core.load_sample("known_answer")
    scores = core.compute_scores(ds, ["knn_density", "outlier"], seed=0)
    sel = core.select(ds, scores, "outlier", keep=0.7, seed=3)
    evaluator = core.LiveEvaluator(ds, folds=5, seed=0)
    estimate = evaluator.compare(sel.mask)
    curve = core.pruning_curve(ds, scores, ["outlier"], [0.5, 0.7], seeds=1, evaluator=evaluator)
    from core.scorers import scorer_records

    manifest = manifest_document(ds, sel, estimate, scorer_records(scores))
    store = tmp_path_factory.mktemp("mlruns")
    result = tracking.log_selection(ds, sel, estimate=estimate, manifest=manifest, scores=scores, curve=curve,
                                    uri=str(store), experiment="tests", origin="test")
    return ds, sel, estimate, store, result

@pytest.mark.slow
def test_run_has_params_metrics_tags_and_artifacts(logged):
    from mlflow.tracking import MlflowClient

    ds, sel, estimate, store, result = logged
    assert result["uri"] == f"sqlite:///{store.resolve() / 'mlflow.db'}" and (store / "artifacts").is_dir()
    client = MlflowClient(tracking_uri=result["uri"])
    run = client.get_run(result["run_id"])
    assert run.info.status == "FINISHED"
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["strategy"] == "outlier" and params["keep"] == "0.7" and params["seed"] == "3"
    assert params["n_kept"] == str(sel.n_kept) and params["scorers"] == "knn_density,outlier"
    assert params["scorer.outlier.seed"] == "0" and any(k.startswith("scorer.knn_density.") for k in params)
    assert metrics["accuracy"] == pytest.approx(estimate["selection"]["accuracy"])
    assert metrics["random_accuracy"] == pytest.approx(estimate["random"]["accuracy"])
    assert metrics["full_accuracy"] == pytest.approx(estimate["full"]["accuracy"])
    assert metrics["accuracy_std"] > 0 and metrics["random_accuracy_std"] > 0
    assert metrics["vs_random_points"] == pytest.approx(100 * estimate["vs_random"])
    assert tags["data_fingerprint"] == ds.fingerprint and tags["workbench.origin"] == "test"
    names = {a.path for a in client.list_artifacts(result["run_id"])}
    assert names == {"manifest.json", "scores.csv", "pruning_curve.csv", "pruning_curve.png", "summary.md"}
    local = client.download_artifacts(result["run_id"], "manifest.json", str(store / "download"))
    assert json.loads(open(local).read())["n_kept"] == sel.n_kept
    png = client.download_artifacts(result["run_id"], "pruning_curve.png", str(store / "download"))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"

def test_two_runs_compare_in_one_experiment(logged):
    from mlflow.tracking import MlflowClient

    ds, _, _, store, first = logged
    scores = core.compute_scores(ds, ["knn_density", "outlier"], seed=0)
    sel = core.select(ds, None, "random", keep=0.7, seed=3)
    second = tracking.log_selection(ds, sel, estimate=core.LiveEvaluator(ds).compare(sel.mask), scores=scores,
                                    summary="<html><body>summary</body></html>", uri=str(store), experiment="tests")
    assert second["experiment_id"] == first["experiment_id"] and "summary.html" in second["artifacts"]
    runs = MlflowClient(tracking_uri=first["uri"]).search_runs([first["experiment_id"]],
                                                               order_by=["metrics.accuracy DESC"])
    assert {r.info.run_id for r in runs} == {first["run_id"], second["run_id"]}
    assert runs[0].data.metrics["accuracy"] >= runs[1].data.metrics["accuracy"]

def test_default_store_is_local_and_missing_mlflow_is_explained(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert tracking.tracking_uri() == f"sqlite:///{(tmp_path / 'mlruns').resolve() / 'mlflow.db'}"
    assert tracking.tracking_uri("http://host:5000") == "http://host:5000"
    monkeypatch.setattr(tracking, "mlflow_available", lambda: False)
    ds = core.Dataset.from_arrays([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1])
    sel = core.select(ds, None, "random", keep=0.5)
    with pytest.raises(ConfigError, match="pip install"):
        tracking.log_selection(ds, sel)
    assert not (tmp_path / "mlruns").exists()

@pytest.mark.slow
def test_track_is_off_unless_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ds = core.Dataset.from_arrays([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1])
    sel = core.select(ds, None, "random", keep=0.5)
    assert tracking.track(None, ds, sel) is None and tracking.track(False, ds, sel) is None
    assert not (tmp_path / "mlruns").exists()
    run = tracking.track(True, ds, sel, origin="cli")
    assert run["uri"] == tracking.tracking_uri() and (tmp_path / "mlruns" / "mlflow.db").is_file()

@pytest.mark.slow
def test_cli_select_and_api_export_log_runs(tmp_path, capsys, monkeypatch):
    from mlflow.tracking import MlflowClient

    from core.cli import main

    frame = core.make_known_answer(n_rows=400, n_features=6, seed=2)[["id"] + [f"f{i}" for i in range(6)] + ["label"]]
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    store = tmp_path / "store"
    code = main(["select", str(data), "--label", "label", "--id", "id", "--strategy", "random", "--keep", "0.5",
                 "--out", str(tmp_path / "kept.csv"), "--manifest", str(tmp_path / "m.json"), "--mlflow", str(store)])
    assert code == 0 and "MLflow run" in capsys.readouterr().out
    uri = tracking.tracking_uri(str(store))
    ds = core.load_dataset(data, label="label", id="id")
    sel = core.select(ds, None, "random", keep=0.3)
    core.export(ds, sel, tmp_path / "api.csv", manifest=tmp_path / "api.json", mlflow=str(store))
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(tracking.DEFAULT_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["workbench.origin"] for r in runs) == ["api", "cli"]
    assert {r.data.params["keep"] for r in runs} == {"0.5", "0.3"}
    monkeypatch.setattr(tracking, "mlflow_available", lambda: False)
    code = main(["select", str(data), "--label", "label", "--strategy", "random", "--keep", "0.5",
                 "--out", str(tmp_path / "k2.csv"), "--manifest", str(tmp_path / "m2.json"), "--mlflow"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install" in err and not (tmp_path / "k2.csv").exists()


def test_a_served_app_logs_only_to_the_stores_the_operator_lists(monkeypatch):
    # a visitor named sqlite:////tmp/x.db and the server created that file: a store decides where files go
    from workbench import settings

    monkeypatch.setenv("WORKBENCH_SERVER_MODE", "1")
    monkeypatch.delenv("WORKBENCH_MLFLOW_STORES", raising=False)
    settings.operator.cache_clear()
    try:
        assert "WORKBENCH_MLFLOW_STORES (none)" in settings.mlflow_refusal("sqlite:////tmp/anywhere.db")
        assert settings.mlflow_refusal("http://mlflow:5000") is not None
        monkeypatch.setenv("WORKBENCH_MLFLOW_STORES", "http://mlflow:5000, https://tracking.example")
        settings.operator.cache_clear()
        assert settings.mlflow_refusal("http://mlflow:5000") is None
        assert settings.mlflow_refusal(" https://tracking.example ") is None
        assert settings.mlflow_refusal("sqlite:////tmp/anywhere.db") is not None
        monkeypatch.delenv("WORKBENCH_SERVER_MODE")
        settings.operator.cache_clear()
        assert settings.mlflow_refusal("sqlite:////tmp/anywhere.db") is None  # loopback: the person at the keyboard
    finally:
        settings.operator.cache_clear()
