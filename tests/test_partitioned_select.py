"""Partitioned selection: the manifest records the sample and the engine, ``apply`` re-runs a partitioned
manifest exactly, and ``ccs:<scorer>`` runs from per-partition summaries with the in-memory allocation.

The data and their scores are generated (no scoring run): 3 partitions of unequal size, a continuous
score, a score with ties and NaN, and a flag column, so each test checks the rule, not a scorer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core
from cli_runner import digest, run_cli
from core.data.partitions import load_partitioned
from core.foundation.errors import ConfigError, DataFileError, ManifestError, WorkbenchError
from core.outputs.manifest import manifest_head
from core.workflows import (SerialEngine, apply_partitioned, dask_engine, load_partitioned_sample,
                            select_partitioned)

ROWS, FEATURES = 3000, 4
SIZES = (1300, 1000, 700)


def _write_parts(frame: pd.DataFrame, folder: Path) -> Path:
    folder.mkdir(parents=True)
    start = 0
    for number, size in enumerate(SIZES):
        frame.iloc[start:start + size].to_parquet(folder / f"part-{number}.parquet", index=False)
        start += size
    return folder


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A partitioned dataset and a matching scores folder (id, label, scores, a flag)."""
    root = tmp_path_factory.mktemp("generated")
    generator = np.random.default_rng(11)
    X = generator.normal(size=(ROWS, FEATURES)).astype(np.float32)
    labels = np.array(["ant", "bee", "cat"])[generator.integers(0, 3, ROWS)]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(FEATURES)])
    frame["label"] = labels
    frame["note"] = [f"row {i}" for i in range(ROWS)]  # a non-feature column the kept rows must carry
    frame["rid"] = [f"r{i:05d}" for i in range(ROWS)]
    data = _write_parts(frame, root / "data")
    el2n = generator.gamma(2.0, 1.0, ROWS)
    el2n[generator.choice(ROWS, 25, replace=False)] = np.nan
    density = np.round(generator.normal(size=ROWS), 1)  # many ties
    scores = pd.DataFrame({"id": frame["rid"], "label": labels, "el2n": el2n, "knn_density": density,
                           "label_noise": generator.random(ROWS)})
    scores["label_noise_flag"] = scores["label_noise"] > 0.9
    scores_folder = _write_parts(scores, root / "scores")
    return {"root": root, "data": data, "scores": scores_folder, "frame": frame, "table": scores}


def _select(generated, name: str, engine=None, **options) -> dict:
    root = generated["root"]
    return select_partitioned(generated["data"], generated["scores"], root / f"kept-{name}", root / f"{name}.json",
                              label="label", id="rid", engine=engine or SerialEngine(), **options)


def test_manifest_records_sample_and_engine(generated):
    _, _, sample = load_partitioned_sample(generated["data"], rows=600, label="label", id="rid", seed=3)
    document = _select(generated, "sampled", strategy="el2n", keep=0.25, sample=sample)
    written = json.loads((generated["root"] / "sampled.json").read_text())
    assert written["sample"] == json.loads(json.dumps(sample)) and written["sample"]["of"] == ROWS
    assert written["engine"] == {"engine": "serial", "workers": 1} == document["engine"]
    plain = _select(generated, "unsampled", strategy="el2n", keep=0.25)
    assert plain["sample"] is None
    other = dict(sample, data_fingerprint="0" * 64)
    with pytest.raises(WorkbenchError, match="fingerprints differ"):
        _select(generated, "wrong-sample", strategy="el2n", keep=0.25, sample=other)
    assert not (generated["root"] / "kept-wrong-sample").exists()


def _frames(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder) if any(folder.iterdir()) else pd.DataFrame()


def _same_files(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and names
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


STRATEGIES = {  # name: (strategy, options); knn_density has many ties, el2n has NaN
    "top-ties": ("knn_density:high", {"keep": 0.3}),
    "low": ("el2n:low", {"keep": 0.2}),
    "threshold": ("el2n", {"threshold": 2.5}),
    "random": ("random", {"keep": 0.15}),
    "flags": ("drop-flagged:label_noise", {}),
    "ccs": ("ccs:el2n", {"keep": 0.3}),
    "ccs-ties": ("ccs:knn_density:beta=0.2:bins=7:hard=low", {"keep": 0.25}),
    "ccs-nan": ("ccs:el2n:beta=0.005:bins=10", {"keep": 0.4}),  # 15 pruned, 10 of the 25 NaN stay (as the top)
    "balanced": ("balanced:el2n", {"keep": 0.3}),
    "balanced-random": ("balanced:random:mode=equal", {"keep": 0.2}),
    "balanced-nan": ("balanced:el2n:low", {"keep": 0.995}),  # quotas exceed some classes' scored rows
}


@pytest.fixture(scope="module")
def on_cluster(generated):
    """Every strategy selected, then its manifest applied, on a local cluster of two worker processes."""
    root = generated["root"]
    selected, applied = {}, {}
    with dask_engine(workers=2) as engine:
        for name, (strategy, options) in STRATEGIES.items():
            selected[name] = _select(generated, f"cluster-{name}", engine=engine, strategy=strategy, seed=5, **options)
            applied[name] = apply_partitioned(root / f"cluster-{name}.json", generated["data"],
                                              root / f"applied-{name}", engine=engine)
    return {"selected": selected, "applied": applied}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_apply_reproduces_select_exactly(generated, on_cluster, name):
    root = generated["root"]
    _same_files(root / f"kept-cluster-{name}", root / f"applied-{name}")  # same rows, same bytes
    kept = _frames(root / f"applied-{name}")
    assert on_cluster["applied"][name]["n_kept"] == on_cluster["selected"][name]["n_kept"] == len(kept)
    assert list(kept.columns) == list(generated["frame"].columns)
    assert on_cluster["selected"][name]["engine"] == {"engine": "dask", "cluster": "local", "workers": 2}


def test_partitioned_top_random_flags_equal_in_memory_rules(generated, on_cluster):
    root, table = generated["root"], generated["table"]
    kept = set(_frames(root / "kept-cluster-low")["rid"])
    values = table.set_index("id")["el2n"].dropna().sort_values(kind="stable")
    assert len(kept) == round(0.2 * ROWS) and max(values[list(kept)]) <= values.iloc[len(kept) - 1]
    kept = set(_frames(root / "kept-cluster-threshold")["rid"])
    assert kept == set(table.loc[table["el2n"] >= 2.5, "id"])
    assert set(_frames(root / "kept-cluster-flags")["rid"]) == set(table.loc[~table["label_noise_flag"], "id"])
    ties = _frames(root / "kept-cluster-top-ties")
    density = table.set_index("id")["knn_density"]
    assert len(ties) == round(0.3 * ROWS) and density[ties["rid"]].min() >= density.drop(ties["rid"]).max()
    serial = _select(generated, "serial-random", strategy="random", keep=0.15, seed=5)
    _same_files(root / "kept-serial-random", root / "kept-cluster-random")  # the engine does not change rows
    assert serial["n_kept"] == round(0.15 * ROWS)


def test_apply_refuses_other_data_or_scores_and_writes_nothing(generated, on_cluster, tmp_path):
    root = generated["root"]
    changed = tmp_path / "changed"
    changed.mkdir()
    for part in sorted(generated["data"].glob("*.parquet")):
        frame = pd.read_parquet(part)
        if part.name == "part-1.parquet":
            column = frame.select_dtypes("float").columns[0]  # one value, inside the column's range
            frame.loc[3, column] = float(frame[column].median())
        frame.to_parquet(changed / part.name, index=False)
    manifest = root / "cluster-ccs.json"
    with pytest.raises(ManifestError, match="differ from the ones the manifest was made from"):
        apply_partitioned(manifest, changed, tmp_path / "out1")
    other_scores = tmp_path / "scores"
    other_scores.mkdir()
    for part in sorted(generated["scores"].glob("*.parquet")):
        frame = pd.read_parquet(part)
        frame["el2n"] = frame["el2n"] * 1.5
        frame.to_parquet(other_scores / part.name, index=False)
    with pytest.raises(ManifestError, match="not the ones the selection used"):
        apply_partitioned(manifest, generated["data"], tmp_path / "out2", scores=other_scores)
    with pytest.raises(ConfigError, match="--force does not apply"):
        apply_partitioned(manifest, generated["data"], tmp_path / "out3", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["changed", "scores"]  # nothing partial, no staging
    moved = json.loads(manifest.read_text())
    moved["scores"] = str(tmp_path / "gone")
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    with pytest.raises(ManifestError, match="pass the scores folder with --scores"):
        apply_partitioned(tmp_path / "moved.json", generated["data"], tmp_path / "out5")
    applied = apply_partitioned(tmp_path / "moved.json", generated["data"], tmp_path / "out4",
                                scores=generated["scores"])
    assert applied["n_kept"] == on_cluster["selected"]["ccs"]["n_kept"]


@pytest.fixture(scope="module")
def in_memory(generated, tmp_path_factory):
    ds = load_partitioned(generated["data"], store=tmp_path_factory.mktemp("store"), label="label", id="rid")
    return ds, generated["table"].drop(columns=["label"]).set_index("id")


def _bin_counts(hardness: np.ndarray, top: float, edges: list) -> dict:
    values = np.where(np.isnan(hardness), top, hardness)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    found = np.bincount(bins, minlength=len(edges) - 1)
    return {int(b): int(c) for b, c in enumerate(found) if c}


@pytest.mark.parametrize("name,scorer,hard", [("ccs", "el2n", 1.0), ("ccs-ties", "knn_density", -1.0),
                                              ("ccs-nan", "el2n", 1.0)])
def test_partitioned_ccs_takes_the_in_memory_allocation(generated, on_cluster, in_memory, name, scorer, hard):
    """Same beta cut, same bins, same count per bin as core.select, and the same rows: both engines draw inside a
    bin (and break ties at the beta cut) by the same per-row hash of (seed, row position)."""
    ds, scores = in_memory
    strategy, options = STRATEGIES[name]
    expected = core.select(ds, scores, strategy=strategy, seed=5, **options)
    document = on_cluster["selected"][name]
    rule = document["rule"]
    assert document["n_kept"] == expected.n_kept == round(options["keep"] * ROWS)
    assert rule["n_pruned_hardest"] == expected.details["n_pruned_hardest"]
    assert rule["edges"] == expected.details["bin_edges"]
    allocation = {int(b): int(t) for b, t in expected.details["bin_taken"].items()}
    assert dict(zip(rule["bins_used"], rule["bin_taken"])) == allocation
    kept = _frames(generated["root"] / f"kept-cluster-{name}")
    hardness = hard * scores.loc[kept["rid"], scorer].to_numpy()
    assert _bin_counts(hardness, rule["top"], rule["edges"]) == {b: t for b, t in allocation.items() if t}
    everything = hard * scores[scorer].to_numpy()
    hardest = np.sort(np.nan_to_num(everything, nan=np.inf))[::-1][:rule["n_pruned_hardest"]]
    never_kept = hardest.min()  # rows harder than the n_pruned-th hardest (NaN counts as hardest) are dropped
    assert np.nan_to_num(hardness, nan=np.inf).max() <= never_kept
    memory_hardness = hard * scores.loc[ds.ids[expected.mask], scorer].to_numpy()
    assert np.nan_to_num(memory_hardness, nan=np.inf).max() <= never_kept
    nan_rows = int(np.isnan(everything).sum())
    assert np.isnan(hardness).sum() <= max(nan_rows - rule["n_pruned_hardest"], 0)
    assert set(kept["rid"]) == set(ds.ids[expected.mask])


def test_ccs_within_bin_draw_is_seeded_and_not_data_order(generated):
    first = _select(generated, "ccs-seed-1", strategy="ccs:el2n", keep=0.3, seed=1)
    again = _select(generated, "ccs-seed-1-again", strategy="ccs:el2n", keep=0.3, seed=1)
    other = _select(generated, "ccs-seed-2", strategy="ccs:el2n", keep=0.3, seed=2)
    root = generated["root"]
    rows = {name: set(_frames(root / f"kept-{name}")["rid"]) for name in ("ccs-seed-1", "ccs-seed-1-again", "ccs-seed-2")}
    assert rows["ccs-seed-1"] == rows["ccs-seed-1-again"] and rows["ccs-seed-1"] != rows["ccs-seed-2"]
    assert first["rule"]["bin_taken"] == other["rule"]["bin_taken"] == again["rule"]["bin_taken"]
    positions = np.sort([int(rid[1:]) for rid in rows["ccs-seed-1"]])
    assert positions.mean() == pytest.approx((ROWS - 1) / 2, rel=0.1)  # not the first rows of each bin


@pytest.mark.parametrize("name", ["balanced", "balanced-random", "balanced-nan"])
def test_partitioned_balanced_takes_the_in_memory_quotas(generated, on_cluster, in_memory, name):
    """Same quota per class as core.select, and the same rows where no NaN row fills a quota (random draws and ties
    use the same per-row hash on both engines; NaN rows that fill a quota are taken in data order on partitions)."""
    ds, _ = in_memory
    strategy, options = STRATEGIES[name]
    expected = core.select(ds, scores_of(generated), strategy=strategy, seed=5, **options)
    kept = _frames(generated["root"] / f"kept-cluster-{name}")
    memory = generated["frame"].set_index("rid").loc[ds.ids[expected.mask]]
    assert kept["label"].value_counts().to_dict() == memory["label"].value_counts().to_dict()
    assert on_cluster["selected"][name]["n_kept"] == expected.n_kept
    if name in ("balanced", "balanced-random"):
        assert set(kept["rid"]) == set(memory.index)
    if name == "balanced-nan":
        assert kept["rid"].isin(generated["table"].loc[generated["table"]["el2n"].isna(), "id"]).sum() > 0


def scores_of(generated) -> pd.DataFrame:
    return generated["table"].drop(columns=["label"]).set_index("id")


def test_unsupported_kinds_say_what_runs(generated):
    with pytest.raises(ConfigError, match=r"balanced:<scorer\|random>.*band:<scorer>.*\(d2, .*auto\) run in memory only"):
        _select(generated, "d2", strategy="d2:el2n", keep=0.3)


@pytest.mark.slow
def test_cli_select_then_apply_on_partitions(generated, tmp_path):
    data, scores = generated["data"], generated["scores"]
    selected = run_cli("select", data, "--label", "label", "--id", "rid", "--scores", scores, "--strategy",
                       "ccs:el2n:bins=20", "--keep", "0.3", "--seed", "4", "--workers", "0", "--out", tmp_path / "kept",
                       "--manifest", tmp_path / "kept.json", "--quiet", timeout=300)
    assert selected.returncode == 0, selected.stderr
    before = digest(data)
    applied = run_cli("apply", tmp_path / "kept.json", data, "--out", tmp_path / "again", "--workers", "2", timeout=300)
    assert applied.returncode == 0, applied.stderr
    assert "kept 900 of 3000" in applied.stdout and digest(data) == before
    _same_files(tmp_path / "kept", tmp_path / "again")
    manifest = json.loads((tmp_path / "kept.json").read_text())
    assert manifest["engine"] == {"engine": "serial", "workers": 1} and manifest["rule"]["kind"] == "ccs"
    assert manifest["columns"] == {"label": "label", "id": "rid", "features": [f"f{i}" for i in range(FEATURES)]}
    exists = run_cli("apply", tmp_path / "kept.json", data, "--out", tmp_path / "again", "--workers", "0")
    assert exists.returncode == 2 and exists.stderr.count("\n") == 1 and "exists" in exists.stderr


@pytest.mark.slow
def test_cli_in_memory_manifest_on_partitioned_data_is_one_clear_error(generated, tmp_path):
    csv = tmp_path / "small.csv"
    generated["frame"].iloc[:300].to_csv(csv, index=False)
    made = run_cli("select", csv, "--label", "label", "--id", "rid", "--strategy", "random", "--keep", "0.5",
                   "--out", tmp_path / "kept.csv", "--manifest", tmp_path / "memory.json", "--quiet", timeout=300)
    assert made.returncode == 0, made.stderr
    run = run_cli("apply", tmp_path / "memory.json", generated["data"], "--out", tmp_path / "out", "--workers", "0")
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "in-memory selection manifest" in run.stderr and "workbench select" in run.stderr
    assert not (tmp_path / "out").exists()


def test_an_error_while_writing_leaves_no_folder(generated, tmp_path):
    scores = tmp_path / "scores"
    scores.mkdir()
    for part in sorted(generated["scores"].glob("*.parquet")):
        frame = pd.read_parquet(part)
        if part.name == "part-2.parquet":
            frame["id"] = frame["id"].iloc[::-1].to_numpy()  # the last partition's scores belong to other rows
        frame.to_parquet(scores / part.name, index=False)
    with pytest.raises(DataFileError, match="ids differ"):
        select_partitioned(generated["data"], scores, tmp_path / "kept", tmp_path / "kept.json", strategy="ccs:el2n",
                           keep=0.3, label="label", id="rid")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores"]


def test_select_reports_its_stages_and_a_cancel_writes_nothing(generated, tmp_path):
    import threading

    from core.foundation.errors import Cancelled

    seen = []
    select_partitioned(generated["data"], generated["scores"], tmp_path / "kept", tmp_path / "kept.json",
                       strategy="el2n", keep=0.2, id="rid",
                       progress=lambda done, total, message: seen.append((done, total)))
    assert seen[0] == (0, 1000) and seen[-1] == (1000, 1000) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(set(seen)) > 4  # it moves per partition task, not once per stage
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        select_partitioned(generated["data"], generated["scores"], tmp_path / "kept2", tmp_path / "kept2.json",
                           strategy="el2n", keep=0.2, id="rid", cancel=stop)
    assert not (tmp_path / "kept2").exists() and not (tmp_path / "kept2.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".kept2")]  # no staging left behind


def test_a_manifest_that_cannot_be_written_leaves_no_kept_rows(generated, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the manifest's folder should be")
    with pytest.raises(OSError):
        select_partitioned(generated["data"], generated["scores"], tmp_path / "kept", blocker / "kept.json",
                           strategy="el2n", keep=0.2, id="rid")
    assert not (tmp_path / "kept").exists()  # the kept rows are published only with their manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]  # no staging left behind


def test_both_engines_write_one_manifest_head_with_a_rule_block(generated):
    """One writer of what every manifest records (core.outputs.manifest.manifest_head): the same keys with the
    same meaning in memory and on partitions, each with a ``rule`` block naming its kind."""
    partitioned = _select(generated, "head", strategy="el2n", keep=0.25)
    frame = generated["frame"].iloc[:900]
    ds = core.load_dataset(frame.drop(columns=["note"]), label="label", id="rid")
    scores = generated["table"].iloc[:900].set_index("id")[["el2n"]]
    in_memory = core.build_manifest(ds, core.select(ds, scores, "el2n", keep=0.25, seed=0))
    head = set(manifest_head(strategy="x", keep=None, threshold=None, seed=0, n_input=1, n_kept=1,
                             data_fingerprint="f", scorers=[], rule={}))
    for document in (partitioned, in_memory):
        assert head <= set(document)
        assert document["version"]["manifest_schema"] == 1 and document["format"] == in_memory["format"]
        assert document["rule"]["kind"] == "top" and document["strategy"] == "el2n" and document["keep"] == 0.25
    assert in_memory["rule"] == {"kind": "top", **in_memory["params"]}  # in memory: the kind and its parameters
    assert partitioned["rule"]["cut"] is not None  # on partitions: the typed rule apply re-runs
