"""The browser benchmark still drives the app: a tiny table through load, scoring, Tune and the slider.

``benchmarks/app_browser.py`` finds the app's widgets by their keys, roles and texts; when a page
changes under it, this test fails instead of the benchmark rotting unseen. It checks that every
step returns its numbers, not how fast they are (speed targets live in the benchmark's JSON).
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _benchmark():
    spec = importlib.util.spec_from_file_location("app_browser", ROOT / "benchmarks" / "app_browser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def test_the_benchmark_returns_every_number_on_a_tiny_table():
    assert shutil.which("chromium") or os.path.exists("/usr/bin/chromium"), "chromium is not installed"
    bench = _benchmark()
    out = bench.main(["--shapes", "1500x16", "--steps", "scoring,tune,slider", "--umap", "off",
                      "--moves", "60,50", "--timeout", "120"])
    shape = out["shapes"]["1500x16"]
    for step in ("load", "scoring", "tune", "slider"):
        assert "error" not in shape[step], (step, shape[step])
        assert _number(shape[step]["load1"]) and _number(shape[step]["step_wall_s"])
    assert _number(shape["load"]["load_click_to_loaded_s"])
    scoring = shape["scoring"]
    assert _number(scoring["click_to_results_s"]) and _number(scoring["estimate_s"]) and _number(scoring["feedback_s"])
    tune = shape["tune"]
    assert _number(tune["first_figure_s"]) and tune["honest_figure_s"] >= tune["first_figure_s"]
    assert tune["honest_figure"].endswith("%") and not bench.OPTIMISTIC.search(tune["honest_label"])
    slider = shape["slider"]
    assert [move["keep"] for move in slider["moves"]] == [60, 50]
    assert slider["moves"][0]["rows"] > slider["moves"][1]["rows"] > 0  # the cards followed the slider
    for key in ("pruned_median_s", "pruned_max_s", "random_median_s", "random_max_s", "both_max_s"):
        assert _number(slider[key]), key
    assert isinstance(shape["progress_ever_decreased"], bool) and shape["progress"]["samples"] > 0
    assert shape["server_log"]["server.err"]["tracebacks"] == 0, shape["server_log"]
