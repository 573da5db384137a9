"""The scoring cost model (core.scorers.cost): it grows with rows and columns as its complexity says,
switches from exact to approximate neighbours where scoring does, prices shared work once, rejects
unknown scorers clearly, and the Scores page shows its estimate before Compute. No timings here:
the estimate against measured time is in ``benchmarks/scorers.py --estimate``."""

from __future__ import annotations

import ast
import math
import os

import pytest

from core.foundation.errors import ConfigError
from core.foundation.neighbors import APPROXIMATE_FROM
from core.scorers import DEFAULT_SCORERS, LargeData, describe_seconds, estimate_seconds, registered_names
from core.scorers import Scorer, ScoreResult, cost

#: Made-up coefficients with no fixed costs, so each piece is exactly its complexity times a rate.
TABLE = {
    "probe_seconds": 0.02, "torch_import_seconds": 2.0,
    "groups": {
        "neighbors_exact": {"per": {"n2d": 1e-10, "n2": 1e-9}, "fixed": 0.0},
        "neighbors_approximate": {"per": {"n15d": 1e-9, "nd": 1e-8}, "fixed": 0.0},
        "neighbors_hnsw": {"per": {"nlogn": 1e-6, "nlognd": 1e-9}, "fixed": 0.0},
        "oof_logreg": {"per": {"units": 1e-8}, "fixed": 0.0},
        "kmeans": {"per": {"units": 1e-9}, "fixed": 0.0},
        "mlp": {"per": {"units": 1e-10}, "fixed": 0.0},
        "pca": {"per": {"covariance": 1e-11, "randomized": 1e-10}, "fixed": 0.0},
    },
    "scorers": {"default": 1e-8},
}


@pytest.fixture
def made_up(monkeypatch):
    monkeypatch.setattr(cost, "coefficients", lambda: TABLE)
    return TABLE


def _part(estimate: dict, word: str) -> float:
    return sum(seconds for piece, seconds in estimate["parts"].items() if word in piece)


def test_exact_graph_grows_as_n_squared_times_width(made_up):
    small = estimate_seconds(["knn_density"], 5000, 64, 5, speed=1.0)
    double_rows = estimate_seconds(["knn_density"], 10000, 64, 5, speed=1.0)
    double_width = estimate_seconds(["knn_density"], 5000, 128, 5, speed=1.0)
    assert small["neighbors"] == "exact"
    assert _part(double_rows, "neighbors exact") / _part(small, "neighbors exact") == pytest.approx(4.0)
    # n^2 d + 10 n^2 (with these rates): twice the width gives (128 + 10) / (64 + 10).
    assert _part(double_width, "neighbors exact") / _part(small, "neighbors exact") == pytest.approx(138 / 74)
    assert double_rows["total"] > small["total"] and double_width["total"] > small["total"]


def test_out_of_fold_fits_grow_with_rows_columns_classes_and_folds_then_stop_at_the_fit_sample(made_up):
    base = _part(estimate_seconds(["margin"], 10000, 64, 5, speed=1.0), "oof")
    assert _part(estimate_seconds(["margin"], 20000, 64, 5, speed=1.0), "oof") == pytest.approx(2 * base)
    assert _part(estimate_seconds(["margin"], 10000, 64, 10, speed=1.0), "oof") == pytest.approx(2 * base)
    assert _part(estimate_seconds(["margin"], 10000, 129, 5, speed=1.0), "oof") == pytest.approx(2 * base)
    ten = _part(estimate_seconds(["margin"], 10000, 64, 5, folds=10, speed=1.0), "oof")
    assert ten == pytest.approx(base * (10 * 0.9) / (5 * 0.8))
    capped = LargeData(fit_rows=50_000)
    assert _part(estimate_seconds(["margin"], 100_000, 64, 5, large=capped, speed=1.0), "oof") == \
        pytest.approx(_part(estimate_seconds(["margin"], 50_000, 64, 5, large=capped, speed=1.0), "oof"))


def test_the_exact_to_approximate_switch_shows_and_keeps_large_data_far_below_n_squared(made_up):
    below = estimate_seconds(DEFAULT_SCORERS, APPROXIMATE_FROM, 64, 5, speed=1.0)
    above = estimate_seconds(DEFAULT_SCORERS, APPROXIMATE_FROM + 1, 64, 5, speed=1.0)
    assert below["neighbors"] == "exact" and _part(below, "neighbors exact") > 0
    assert above["neighbors"] == "approximate" and _part(above, "neighbors approximate") > 0
    assert _part(above, "neighbors exact") == 0
    # Ten times the rows: the default graph (an inverted file) costs about 10^1.5 times more, the HNSW
    # graph 10 log(10 n) / log(n) times; neither 10^2.
    n = APPROXIMATE_FROM + 1
    far = estimate_seconds(["knn_density"], 10 * n, 64, 5, speed=1.0)
    growth = _part(far, "neighbors") / _part(above, "neighbors")
    assert 10 < growth < 10 ** 1.5 + 1e-6
    hnsw = LargeData(search="hnsw")
    growth = (_part(estimate_seconds(["knn_density"], 10 * n, 64, 5, large=hnsw, speed=1.0), "neighbors")
              / _part(estimate_seconds(["knn_density"], n, 64, 5, large=hnsw, speed=1.0), "neighbors"))
    assert growth == pytest.approx(10 * math.log(10 * n) / math.log(n))
    # A caller that moves the threshold moves the switch.
    forced = estimate_seconds(["knn_density"], 5000, 64, 5, large=LargeData(approximate_above=1000), speed=1.0)
    assert forced["neighbors"] == "approximate"


def test_shared_work_is_priced_once_and_charged_to_the_first_scorer_that_needs_it(made_up):
    together = estimate_seconds(["loss", "margin", "el2n"], 10000, 64, 5, speed=1.0)
    alone = [estimate_seconds([name], 10000, 64, 5, speed=1.0)["total"] for name in ("loss", "margin", "el2n")]
    assert together["total"] < sum(alone)
    assert together["scorers"]["loss"] > 10 * together["scorers"]["margin"]  # loss pays the fits
    assert sum(together["scorers"].values()) == pytest.approx(together["total"])
    graph = estimate_seconds(["knn_density", "outlier", "knn_shapley"], 10000, 64, 5, speed=1.0)
    assert len([piece for piece in graph["parts"] if "neighbors" in piece]) == 1


def test_wide_data_is_priced_with_its_pca_and_scored_at_the_reduced_width(made_up):
    wide = estimate_seconds(DEFAULT_SCORERS, 20000, 784, 10, max_dim="auto", speed=1.0)
    # 20k rows of 784 columns: scikit-learn forms the covariance (n D^2); 3k rows take a randomized SVD (n D k).
    assert wide["features"] == 128 and wide["parts"]["pca"] == pytest.approx(20000 * 784 * 784 * 1e-11)
    short = estimate_seconds(["knn_density"], 3000, 784, 10, max_dim="auto", speed=1.0)
    assert short["parts"]["pca"] == pytest.approx(3000 * 784 * 128 * 1e-10)
    unreduced = estimate_seconds(DEFAULT_SCORERS, 20000, 784, 10, speed=1.0)
    assert "pca" not in unreduced["parts"] and unreduced["features"] == 784
    narrow = estimate_seconds(DEFAULT_SCORERS, 20000, 64, 10, max_dim="auto", speed=1.0)
    assert "pca" not in narrow["parts"]


def test_a_faster_machine_gets_a_smaller_estimate(made_up):
    reference = estimate_seconds(DEFAULT_SCORERS, 20000, 64, 5, speed=1.0)["total"]
    assert estimate_seconds(DEFAULT_SCORERS, 20000, 64, 5, speed=0.5)["total"] == pytest.approx(reference / 2)
    assert cost.probe_seconds(repeats=1) > 0


def test_torch_start_up_is_counted_for_training_scorers_only_while_torch_is_not_loaded(made_up, monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert "importing torch" in estimate_seconds(["forgetting"], 3000, 64, 5, speed=1.0)["parts"]
    assert "importing torch" not in estimate_seconds(["knn_density"], 3000, 64, 5, speed=1.0)["parts"]


def test_unknown_scorers_and_impossible_shapes_raise_clear_errors():
    with pytest.raises(ConfigError, match="Unknown scorer 'not_a_scorer'.*knn_density"):
        estimate_seconds(["knn_density", "not_a_scorer"], 1000, 8, 2)
    with pytest.raises(ConfigError, match="n_rows must be a whole number of at least 2"):
        estimate_seconds(["knn_density"], 0, 8, 2)
    with pytest.raises(ConfigError, match="proxy model"):
        estimate_seconds(["margin"], 1000, 8, 2, model="forest")
    with pytest.raises(ConfigError, match="No scorers"):
        estimate_seconds([], 1000, 8, 2)
    assert estimate_seconds("knn_density, margin", 1000, 8, 2)["scorers"].keys() == {"knn_density", "margin"}


def test_the_cost_model_knows_no_scorer_by_name():
    """Each scorer class declares its cost shape; cost.py never switches on a registered name."""
    tree = ast.parse(open(cost.__file__, encoding="utf-8").read())
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not strings & set(registered_names()), strings & set(registered_names())


class _Wide(Scorer):
    """A scorer whose pass reads every column of every neighbour, and that adds its own k-means."""

    name, family, description, higher_means, keep, hard, needs_labels, cost = (
        "probe_wide", "geometry", "test", "test", "high", "high", False, "fast")
    defaults = {"k": 5}

    def needs(self):
        return {"neighbors": self.k}

    def own_work(self, n_rows, n_features, n_classes):
        return float(n_rows * self.k * n_features)

    def own_shared_work(self, n_rows, n_features, n_classes):
        return [("kmeans", "kmeans prototypes", "kmeans", {"units": float(n_rows * n_features * 4)})]

    def _compute(self, ds, context):  # pragma: no cover - priced, never run here
        return ScoreResult(ds.X[:, 0])


def test_a_scorer_class_declares_its_own_cost_shape(made_up):
    estimate = estimate_seconds([_Wide()], 2000, 32, 3, speed=1.0)
    assert estimate["parts"]["probe_wide pass"] == pytest.approx(1e-8 * 2000 * 5 * 32)
    assert estimate["parts"]["kmeans prototypes"] == pytest.approx(1e-9 * 2000 * 32 * 4)
    shared = estimate_seconds([_Wide(), "prototypicality"], 2000, 32, 3, speed=1.0)
    assert shared["scorers"]["prototypicality"] < estimate["parts"]["kmeans prototypes"]  # the k-means counted once


def test_the_shipped_coefficients_price_every_scorer_and_grow_with_rows_and_columns():
    assert cost.coefficients()["probe_seconds"] > 0 and 0.1 <= cost.machine_factor() <= 10
    for name in registered_names():
        seconds = estimate_seconds([name], 3000, 32, 5)["total"]
        assert math.isfinite(seconds) and seconds > 0, name
    totals = [estimate_seconds(DEFAULT_SCORERS, rows, 64, 5, speed=1.0)["total"] for rows in (3000, 20000, 200000)]
    assert totals == sorted(totals) and totals[0] < totals[-1]
    assert estimate_seconds(DEFAULT_SCORERS, 20000, 128, 5, speed=1.0)["total"] > \
        estimate_seconds(DEFAULT_SCORERS, 20000, 16, 5, speed=1.0)["total"]


def test_durations_read_at_a_glance():
    assert describe_seconds(0.3) == "under a second"
    assert describe_seconds(42.0) == "about 42 s (0.7 min)"
    assert describe_seconds(302.0) == "about 300 s (5.0 min)"


def test_scores_page_shows_the_estimate_before_compute():
    os.environ["WORKBENCH_UMAP"] = "off"
    from streamlit.testing.v1 import AppTest

    from workbench import settings

    settings.operator.cache_clear()
    at = AppTest.from_file(os.path.join(os.path.dirname(__file__), "..", "workbench", "app.py"), default_timeout=240)
    at.run()
    at.switch_page("../pages/scores.py").run()
    assert not at.exception, [e.message for e in at.exception]
    ds, table = at.session_state["dataset"], at.session_state["score_table"]
    computed = set() if table is None else set(table.columns)  # a reopened sample may restore cached scores
    picked = [name for name in ("knn_density", "label_noise", "margin", "outlier", "loss") if name not in computed][:2]
    for box in at.checkbox:
        if box.key and box.key.startswith("scores_pick_"):
            box.set_value(box.key.removeprefix("scores_pick_") in picked)
    at.run()
    captions = " ".join(caption.value for caption in at.caption)
    expected = estimate_seconds(picked, ds.n_samples, ds.n_features, ds.n_classes)
    assert f"Estimated time: **{describe_seconds(expected['total'])}** for 2 scorers" in captions
    assert f"{ds.n_samples:,} rows × {ds.n_features} columns" in captions
    labels = [box.label for box in at.checkbox if box.key and box.key.startswith("scores_pick_")]
    assert labels and all("-badge[" in label and ("s]" in label or "min]" in label) for label in labels)
    assert "takes seconds" not in captions
