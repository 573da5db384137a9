"""Faults (issue 25): a `workbench` process killed at a random moment of scoring or exporting leaves
no half-written output, and a disk cache that still verifies and gives the same results.

The CLI runs as a real process (as a user or a scheduler runs it) and is killed with SIGKILL (no
handler runs: the harshest case) at 20 random moments spread over a complete run. After each kill,
every output is either absent or complete and equal to the reference bytes (the kept rows and the
manifest agree), and every cache entry on disk verifies. The temporary files a killed writer
leaves are removed by the next write of the same output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.foundation import cache

ROOT = Path(__file__).resolve().parent.parent
KILLS = 20
SCORERS = "knn_density,el2n,duplicate"


def _data(path: Path) -> Path:
    rng = np.random.default_rng(25)
    frame = pd.DataFrame(rng.normal(size=(400, 8)), columns=[f"f{i}" for i in range(8)])
    frame.insert(0, "id", [f"row{i:03d}" for i in range(400)])
    frame["label"] = np.where(frame["f0"] + frame["f1"] > 0, "up", "down")
    frame.to_csv(path, index=False)
    return path


def _commands(data: Path, out: Path) -> dict:
    common = ["--label", "label", "--id", "id", "--folds", "3", "--seed", "1"]
    return {
        "score": ["score", str(data), *common, "--scorers", SCORERS, "--out", str(out / "scores.csv")],
        "select": ["select", str(data), *common, "--strategy", "ccs:el2n", "--keep", "0.5",
                   "--out", str(out / "kept.csv"), "--manifest", str(out / "manifest.json")],
    }


def _start(arguments: list, cache_dir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_PROGRESS"}
    env.update(WORKBENCH_CACHE_DIR=str(cache_dir), WORKBENCH_UMAP="off")
    return subprocess.Popen([sys.executable, "-m", "core.cli", *arguments], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _run(arguments: list, cache_dir: Path) -> float:
    started = time.monotonic()
    process = _start(arguments, cache_dir)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode()
    return time.monotonic() - started


def _outputs_absent_or_complete(out: Path, reference: dict) -> None:
    for name, expected in reference.items():
        path = out / name
        if not path.exists():
            continue
        if name == "manifest.json":  # complete JSON whose kept ids are the reference's
            document = json.loads(path.read_text())
            assert document["kept_ids"] == expected["kept_ids"], "a manifest from another run"
            assert (out / "kept.csv").exists(), "the manifest was published before its kept rows"
        else:
            assert path.read_bytes() == expected, f"{name} is half-written or differs"
    strays = [p.name for p in out.iterdir() if p.name not in reference and not p.name.startswith(".")]
    assert not strays, strays


def _cache_verifies(cache_dir: Path) -> int:
    """Every entry with a checksum verifies; returns how many there are."""
    entries = 0
    for sidecar in cache_dir.rglob("*.sha256"):
        name = sidecar.name[: -len(".sha256")]
        key = next(name[: -len(s)] for s in cache._SUFFIXES if name.endswith(s))
        assert cache._read_entry(sidecar.parent, key) is not None, f"{sidecar} does not verify"
        entries += 1
    return entries


@pytest.mark.slow
def test_kills_at_random_moments_leave_outputs_absent_or_complete_and_the_cache_verified(tmp_path):
    data = _data(tmp_path / "data.csv")
    reference_out, out = tmp_path / "reference", tmp_path / "out"
    commands = _commands(data, reference_out)
    durations = {name: _run(arguments, tmp_path / "reference_cache") for name, arguments in commands.items()}
    reference = {name: (reference_out / name).read_bytes() for name in ("scores.csv", "kept.csv")}
    reference["manifest.json"] = json.loads((reference_out / "manifest.json").read_text())

    rng = np.random.default_rng(2025)
    cache_dir, killed = tmp_path / "cache", 0
    commands = _commands(data, out)
    for attempt in range(KILLS):
        name = ("score", "select")[attempt % 2]
        if attempt % 5 == 4:  # now and then a cold cache, so a kill lands in the middle of scoring
            for entry in cache_dir.rglob("*"):
                if entry.is_file():
                    entry.unlink()
        process = _start(commands[name], cache_dir)
        time.sleep(rng.uniform(0.05, 1.1) * durations[name])
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)
        _outputs_absent_or_complete(out, reference)
        if cache_dir.exists():
            _cache_verifies(cache_dir)
    assert killed >= KILLS // 2, f"only {killed} of {KILLS} runs were still running when killed"

    for name in ("score", "select"):  # after every kill, a complete run gives the reference results
        _run(commands[name], cache_dir)
    _outputs_absent_or_complete(out, reference)
    assert all((out / name).exists() for name in reference)
    assert _cache_verifies(cache_dir) > 0
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"temporary files of killed writers were left: {leftovers}"
