"""One workflow for every face: the same selection made from the CLI and the notebook API yields the
same manifest (the app's Export page calls the same ``core.build_manifest``; tests/test_app.py checks it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import core

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "sample_data" / "known_answer" / "known_answer_observed.parquet"
VOLATILE = ("created",)


def _cli_manifest(tmp_path, strategy: str, *budget: str) -> dict:
    out, manifest = tmp_path / "cli.csv", tmp_path / "cli.json"
    command = [sys.executable, "-m", "core.cli", "select", str(DATA), "--label", "label", "--id", "id",
               "--strategy", strategy, *budget, "--seed", "0", "--out", str(out), "--manifest", str(manifest),
               "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(manifest.read_text())


def _api_manifest(tmp_path, strategy: str, keep) -> dict:
    ds = core.load_dataset(DATA, label="label", id="id")
    names = core.selection.needed_scorers(strategy)
    scores = core.compute_scores(ds, names, seed=0) if names else None
    sel = core.select(ds, scores, strategy, keep=keep, seed=0)
    estimate = core.estimate(ds, sel, scores=scores)
    return core.export(ds, sel, tmp_path / "api.csv", manifest=tmp_path / "api.json", scores=scores, estimate=estimate)


@pytest.mark.parametrize("strategy, keep", [("ccs:el2n", 0.3), ("drop-flagged:label_noise", None),
                                            ("balanced:random:mode=equal", 0.2)])
def test_cli_and_notebook_write_the_same_manifest(tmp_path, strategy, keep):
    cli = _cli_manifest(tmp_path, strategy, *(["--keep", str(keep)] if keep is not None else []))
    api = json.loads(json.dumps(_api_manifest(tmp_path, strategy, keep)))
    for key in VOLATILE:
        cli.pop(key), api.pop(key)
    assert cli["scorers"] == api["scorers"]
    assert cli == api
    assert (tmp_path / "cli.csv").read_bytes() == (tmp_path / "api.csv").read_bytes()


def test_strategy_rules_come_from_one_grammar():
    """What the CLI refuses before loading is what core refuses, with the same words."""
    with pytest.raises(core.WorkbenchError) as api_error:
        core.selection.check_budget("ccs:el2n", None, None)
    done = subprocess.run([sys.executable, "-m", "core.cli", "select", str(DATA), "--label", "label",
                           "--strategy", "ccs:el2n", "--out", "x.csv", "--manifest", "x.json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert str(api_error.value).split(";")[0] in done.stderr


def _block(selection, random, full, spread=0.01):
    row = lambda accuracy: {"accuracy": accuracy, "std": spread}  # noqa: E731
    return {"selection": row(selection), "random": row(random), "full": row(full)}


def test_estimate_warning_says_when_a_subset_loses():
    assert core.estimate_warning(None) is None
    assert core.estimate_warning(_block(0.80, 0.80, 0.81)) is None           # a tie with random is no loss
    assert core.estimate_warning(_block(0.795, 0.80, 0.81)) is None          # within the spread
    below_random = core.estimate_warning(_block(0.70, 0.80, 0.81))
    assert "10.0 points below random" in below_random and "full data" in below_random
    far_below_full = core.estimate_warning(_block(0.75, 0.74, 0.85))
    assert "below the full data" in far_below_full and "random" not in far_below_full.split(":")[1].split(".")[0]


def test_cli_select_warns_when_the_subset_loses(tmp_path):
    """Keeping the hardest 10% collapses (the flipped labels collect there): the CLI says so on stderr."""
    done = subprocess.run([sys.executable, "-m", "core.cli", "select", str(DATA), "--label", "label", "--id", "id",
                           "--strategy", "el2n:high", "--keep", "0.1", "--out", str(tmp_path / "k.csv"),
                           "--manifest", str(tmp_path / "k.json")], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "workbench: warning: This subset loses" in done.stderr
