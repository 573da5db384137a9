"""Column pruning: planted useless columns rank last, dropping them costs nothing, apply keeps the cut."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core
from core.columns import column_curve, columns_block, kept_columns, prune_columns, rank_columns, suggest_cut
from core.foundation.errors import ConfigError
from core.outputs.manifest import apply_and_export, write_selection

REAL = [f"f{i}" for i in range(10)]
PLANTED = [f"noise{i}" for i in range(5)] + ["colour"]


@pytest.fixture(scope="module")
def planted():
    """Ten informative columns plus five Gaussian and one categorical column that carry no signal."""
    frame = core.make_known_answer(n_rows=1200, n_features=10, seed=3).drop(
        columns=["true_label", "is_flipped", "is_duplicate", "duplicate_of", "is_outlier", "planted"])
    rng = np.random.default_rng(5)
    for i in range(5):
        frame[f"noise{i}"] = rng.normal(0, i + 1, len(frame))
    frame["colour"] = rng.choice(["red", "green", "blue"], len(frame))
    return frame, core.load_dataset(frame, label="label", id="id")


@pytest.fixture(scope="module")
def curve(planted):
    return column_curve(planted[1], folds=5, seed=0)


def test_planted_columns_rank_last(planted):
    _, ds = planted
    ranking = rank_columns(ds)
    assert list(ranking.index) == REAL + PLANTED and ranking.loc["colour", "width"] == 3
    last = set(ranking.sort_values("rank_consensus").index[-len(PLANTED):])
    assert last == set(PLANTED)
    for method in ("permutation", "mutual_info", "l1"):  # each method on its own puts them low
        ranks = ranking[f"rank_{method}"]
        assert ranks[PLANTED].mean() > ranks[REAL].mean() + 5, method
    assert (ranking.loc[PLANTED, "permutation"] < 0.01).all() and ranking.loc[REAL, "permutation"].max() > 0.02


@pytest.mark.slow
def test_dropping_planted_columns_does_not_lower_the_estimate(curve):
    assert list(curve["n_columns"]) == list(range(16, 0, -1))
    full = curve["full_mean"].iloc[0]
    assert curve["accuracy_mean"].iloc[0] == pytest.approx(full)
    at_cut = curve[curve["n_columns"] == len(REAL)].iloc[0]
    assert at_cut["accuracy_mean"] >= full - 0.005 and set(at_cut["dropped"]) == set(PLANTED)
    mid = curve[curve["n_columns"].between(4, 10)]
    assert (mid["accuracy_mean"] - mid["random_mean"]).mean() > 0.03  # the ranking beats random columns
    assert (curve["random_std"] >= 0).all() and curve.attrs["method"] == "consensus"
    assert suggest_cut(curve, points=0.5) <= len(REAL)


def test_curve_on_labels_without_signal_stays_at_chance(planted):
    _, ds = planted
    labels = np.random.default_rng(0).permutation(ds.labels)
    noise = core.load_dataset(pd.DataFrame(ds.X[:, :8], columns=[f"c{i}" for i in range(8)]).assign(label=labels),
                              label="label")
    majority = np.bincount(noise.y).max() / noise.n_samples
    result = column_curve(noise, folds=5, seed=0, random_repeats=2)
    assert result["accuracy_mean"].max() < majority + 0.04  # per-fold rankings never see the held-out labels


def test_cut_is_recorded_and_apply_reproduces_rows_and_columns(planted, curve, tmp_path):
    frame, ds = planted
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    ds = core.load_dataset(path, label="label", id="id")
    kept = kept_columns(curve.attrs["ranking"], len(REAL))
    assert kept == REAL
    pruned = prune_columns(ds, kept)
    assert pruned.n_features == len(REAL) and pruned.settings["features"] == REAL and pruned.source == ds.source
    sel = core.select(pruned, None, "random", keep=0.5, seed=0)
    block = columns_block(ds, kept, method="consensus", curve=curve)
    assert block["dropped"] == PLANTED and block["estimate"]["full_mean"] > 0.5
    write_selection(pruned, sel, tmp_path / "kept.csv", manifest=tmp_path / "m.json", columns=block)
    written = pd.read_csv(tmp_path / "kept.csv")
    assert list(written.columns) == ["id"] + REAL + ["label"] and len(written) == sel.n_kept
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert manifest["columns"]["kept"] == REAL and manifest["data"]["load_options"]["features"] == REAL
    applied, _ = apply_and_export(tmp_path / "m.json", path, tmp_path / "again.csv")
    again = pd.read_csv(tmp_path / "again.csv")
    assert not applied.details["forced"] and again.equals(written)


def test_user_errors(planted, tmp_path):
    _, ds = planted
    with pytest.raises(ConfigError, match="column ranking"):
        column_curve(ds, method="entropy")
    with pytest.raises(ConfigError, match="not feature columns"):
        prune_columns(ds, ["f0", "label"])
    with pytest.raises(ConfigError, match="between 1 and"):
        kept_columns(rank_columns(ds), 0)
    images = core.Dataset.from_arrays(np.zeros((20, 4)) + np.arange(20)[:, None], [0, 1] * 10, kind="image")
    with pytest.raises(ConfigError, match="image features"):
        rank_columns(images)


@pytest.mark.slow
def test_cli_columns_cut_select_and_apply(planted, tmp_path, capsys):
    from core.cli import main

    frame, _ = planted
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    files = {name: tmp_path / name for name in ("curve.csv", "ranking.csv", "cut.json", "kept.csv", "m.json",
                                                 "again.csv")}
    code = main(["columns", str(data), "--label", "label", "--id", "id", "--keep-columns", str(len(REAL)),
                 "--out", str(files["curve.csv"]), "--ranking", str(files["ranking.csv"]),
                 "--cut", str(files["cut.json"])])
    assert code == 0 and f"Keep {len(REAL)} of 16 columns" in capsys.readouterr().out
    assert json.loads(files["cut.json"].read_text())["kept"] == REAL
    assert list(pd.read_csv(files["curve.csv"])["n_columns"]) == list(range(16, 0, -1))
    assert len(pd.read_csv(files["ranking.csv"])) == 16
    code = main(["select", str(data), "--label", "label", "--id", "id", "--columns", str(files["cut.json"]),
                 "--strategy", "random", "--keep", "0.5", "--out", str(files["kept.csv"]),
                 "--manifest", str(files["m.json"])])
    assert code == 0
    kept = pd.read_csv(files["kept.csv"])
    assert list(kept.columns) == ["id"] + REAL + ["label"] and len(kept) == 600
    assert main(["apply", str(files["m.json"]), str(data), "--out", str(files["again.csv"])]) == 0
    assert pd.read_csv(files["again.csv"]).equals(kept)
    code = main(["columns", str(data), "--label", "label", "--keep-columns", "99", "--out", str(tmp_path / "x.csv")])
    assert code == 2 and "--keep-columns" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()


@pytest.mark.app
def test_columns_page_ranks_and_continues_with_the_cut(monkeypatch):
    monkeypatch.setenv("WORKBENCH_UMAP", "off")
    from streamlit.testing.v1 import AppTest

    from workbench import settings

    settings.operator.cache_clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "workbench" / "app.py"), default_timeout=600)
    at.run()
    frame = core.make_known_answer(n_rows=600, n_features=6, seed=3)[["id", "f0", "f1", "f2", "f3", "f4", "f5", "label"]]
    frame["noise"] = np.random.default_rng(0).normal(size=len(frame))
    at.session_state["dataset"] = core.load_dataset(frame, label="label", id="id")
    at.switch_page("../pages/columns.py").run()
    assert not at.exception and not at.error
    at.button(key="columns_run").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert {m.label for m in at.metric} >= {"All 7 columns"}
    at.select_slider(key="columns_keep").set_value(6).run()
    at.button(key="columns_apply").click().run()
    assert not at.exception and not at.error
    assert at.session_state["dataset"].settings["features"] == [f"f{i}" for i in range(6)]
    assert at.session_state["column_cut"]["block"]["dropped"] == ["noise"]
    at.switch_page("../pages/export.py").run()  # the export records the cut and leaves the column out
    assert not at.exception, [e.message for e in at.exception]
    files = at.session_state["memo"]["export_files"][1]
    assert json.loads(files["manifest"])["columns"]["dropped"] == ["noise"]
    assert "noise" not in pd.read_csv(io.BytesIO(files["rows"])).columns



def test_column_names_kept_under_core_search():
    """Column pruning moved to core.columns; the names it had under core.search stay the same objects."""
    for name in ("rank_columns", "column_curve", "kept_columns", "suggest_cut", "prune_columns", "columns_block"):
        assert getattr(core.search, name) is getattr(core.columns, name)
        assert name in core.search.__all__


def test_column_groups_map_each_column_to_its_features():
    """A categorical column's one-hot block and a numeric column's missing indicator count as that column."""
    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0] * 10, "colour": ["red", "blue", "red", "green"] * 10,
                          "b": np.random.default_rng(0).normal(size=40), "label": ["x", "y"] * 20})
    ds = core.load_dataset(frame, label="label")
    groups = core.columns.column_groups(ds)
    names = list(ds.feature_names)
    assert sorted(groups) == ["a", "b", "colour"]
    assert sorted(p for positions in groups.values() for p in positions) == list(range(len(names)))
    assert [names[p] for p in groups["colour"]] == ["colour=blue", "colour=green", "colour=red"]
    assert [names[p] for p in groups["a"]] == ["a", "a__missing"]
