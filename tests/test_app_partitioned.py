"""AppTest checks of the scored-partitions mode: the Data page samples what `workbench score` wrote on
partitions, Tune works on the sample at once, and Export writes the recipe's selection for every row.

The data are small generated Parquet partitions, scored serially in this process with three scorers
that run on partitions (one neighbour graph, one out-of-fold fit).
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest

os.environ["WORKBENCH_UMAP"] = "off"
from streamlit.testing.v1 import AppTest  # noqa: E402

import core  # noqa: E402
from core.scorers import scorer_records  # noqa: E402
from core.selection import strategy_kinds  # noqa: E402
from core.workflows import PARTITIONED_KINDS, apply_partitioned, score_partitioned  # noqa: E402
from test_app import _app, _compute, _ok, _page, _wait  # noqa: E402  (one AppTest driver for every app test)
from workbench import settings  # noqa: E402

ROWS, PARTITIONS, SAMPLE = 1500, 3, 600

pytestmark = pytest.mark.app  # `make test-fast` leaves the app's tests to `make test`

SCORERS = ["knn_density", "label_noise", "duplicate"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> dict:
    """Three partitions of three well-separated classes (rid ids), and the scores written for them."""
    root = tmp_path_factory.mktemp("scored-partitions")
    generator = np.random.default_rng(7)
    y = generator.integers(0, 3, ROWS)
    frame = pd.DataFrame(generator.normal(size=(ROWS, 6)) + 2.0 * y[:, None], columns=[f"f{i}" for i in range(6)])
    frame["label"] = np.array(["ant", "bee", "cat"])[y]
    frame["rid"] = [f"r{i:05d}" for i in range(ROWS)]
    (root / "data").mkdir()
    for number, start in enumerate(range(0, ROWS, ROWS // PARTITIONS)):
        frame.iloc[start:start + ROWS // PARTITIONS].to_parquet(root / "data" / f"part-{number}.parquet", index=False)
    score_partitioned(root / "data", root / "scores", label="label", id="rid", names=SCORERS, recall_queries=0)
    return {"root": root, "data": root / "data", "scores": root / "scores"}


def _load(at: AppTest, data, scores, *, id_column: str = "rid") -> AppTest:
    _page(at, "data")
    at.segmented_control(key="data_source").set_value("Scored partitions").run()
    at.text_input(key="data_parts_source").set_value(str(data))
    at.text_input(key="data_parts_scores").set_value(str(scores))
    at.text_input(key="data_parts_id").set_value(id_column)
    at.number_input(key="data_parts_rows").set_value(SAMPLE).run()
    at.button(key="data_parts_load").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.fixture(scope="module")
def loaded(scored) -> AppTest:
    at = _load(_app(), scored["data"], scored["scores"])
    _ok(at)
    return at


def test_loading_puts_the_sample_and_its_scores_in_the_session(loaded, scored):
    ds, table = loaded.session_state["dataset"], loaded.session_state["score_table"]
    assert loaded.session_state["origin"] == "Scored partitions: data"
    assert 0.3 * ROWS < ds.n_samples < 0.6 * ROWS  # a sample, not the whole data
    counts = np.bincount(ds.y, minlength=3) / ds.n_samples
    assert np.abs(counts - 1 / 3).max() < 0.08  # stratified: every class at about its full-data share
    assert set(SCORERS) <= set(table.columns) and len(table) == ds.n_samples
    assert set(map(str, table.index)) == set(map(str, ds.ids))
    # the scorer records of _workbench_scores.json came with them (manifests list how they were made)
    records = {r["name"]: r for r in scorer_records(table)}
    assert set(SCORERS) <= set(records) and records["knn_density"]["neighbors"]["search"] == "cluster-probe"
    note = " ".join(i.value for i in loaded.info)
    assert f"stratified sample of **{ds.n_samples:,} of {ROWS:,} rows**" in note
    assert "full data" in note


def test_tune_estimates_and_export_writes_the_full_data_selection(loaded, scored):
    at = _page(loaded, "tune")
    at.selectbox(key="tune_kind").set_value("top").run()
    at.selectbox(key="tune_scorer").set_value("knn_density").run()
    at.slider(key="tune_keep").set_value(30).run()
    _ok(at)
    metrics = {m.label.split(" ·")[0]: m for m in at.metric}
    ds = at.session_state["dataset"]
    assert metrics["Rows kept"].value == f"{int(round(0.3 * ds.n_samples)):,}"
    pruned = next(m for m in at.metric if m.label.startswith("Pruned"))  # the live estimate, on the sample
    assert float(pruned.value.rstrip("%")) > 90  # three well-separated classes
    _page(at, "export")
    assert any(b.label.startswith("Kept rows") for b in at.get("download_button"))  # the sample export stays
    sample_manifest = core.build_manifest(ds, core.select(ds, at.session_state["score_table"], "knn_density", keep=0.3))
    assert sample_manifest["data"]["sample"]["of"] == ROWS  # the sample's own manifest says it is a sample
    out, manifest_path = scored["root"] / "exports" / "kept", scored["root"] / "exports" / "kept.json"
    at.text_input(key="export_full_out").set_value(str(out))
    at.text_input(key="export_full_manifest").set_value(str(manifest_path)).run()
    at.button(key="export_full_write").click().run()
    _wait(at, "full_selection")
    _ok(at)
    kept = pd.read_parquet(out)
    assert len(kept) == round(0.3 * ROWS)  # keep x M, on every row and not on the sample
    assert list(kept.columns) == list(pq.read_schema(next(scored["data"].glob("*.parquet"))).names)
    scores = pd.read_parquet(scored["scores"]).set_index("id")["knn_density"]
    assert scores.loc[kept["rid"]].min() >= scores.drop(kept["rid"]).max()  # the top of the full data
    manifest = json.loads(manifest_path.read_text())
    assert manifest["sample"]["rows"] == ds.n_samples and manifest["sample"]["of"] == ROWS
    assert manifest["engine"]["engine"] == "serial"
    assert manifest["strategy"] == "knn_density" and manifest["keep"] == 0.3 and manifest["n_kept"] == len(kept)
    assert {r["name"] for r in manifest["scorers"]} >= set(SCORERS)
    assert any(f"Wrote {len(kept):,} of {ROWS:,} rows" in s.value for s in at.success)
    applied = apply_partitioned(manifest_path, scored["data"], scored["root"] / "applied")  # `workbench apply`
    assert applied["n_kept"] == len(kept)
    assert list(pd.read_parquet(scored["root"] / "applied")["rid"]) == list(kept["rid"])
    # the same folder again: a clear error, nothing overwritten, no job started
    at.button(key="export_full_write").click().run()
    assert any("already exists" in e.value for e in at.error) and "full_selection" not in at.session_state["jobs"]
    assert len(pd.read_parquet(out)) == len(kept)


def test_a_dask_local_cluster_writes_the_same_rows_and_shuts_down(loaded, scored):
    pytest.importorskip("distributed")
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    at = _page(loaded, "export")
    out, manifest_path = scored["root"] / "dask" / "kept", scored["root"] / "dask" / "kept.json"
    at.text_input(key="export_full_out").set_value(str(out))
    at.text_input(key="export_full_manifest").set_value(str(manifest_path))
    at.radio(key="export_full_engine").set_value("dask").run()
    at.button(key="export_full_write").click().run()
    _wait(at, "full_selection")
    _ok(at)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["engine"] == {"engine": "dask", "cluster": "local", "workers": 2}
    assert manifest["sample"]["of"] == ROWS
    serial = json.loads((scored["root"] / "exports" / "kept.json").read_text())
    assert manifest["strategy"] == serial["strategy"] and manifest["rule"] == serial["rule"]
    assert sorted(pd.read_parquet(out)["rid"]) == sorted(pd.read_parquet(scored["root"] / "exports" / "kept")["rid"])
    leftover = [" ".join(c.cmdline()) for c in psutil.Process().children(recursive=True)
                if c.pid not in before and c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert [command for command in leftover if "resource_tracker" not in command] == []  # the cluster is shut down


def test_the_full_data_job_moves_within_each_partition_and_shows_the_time_left(loaded, scored, monkeypatch):
    from core.workflows.partitioned import selecting
    from workbench import jobs

    monkeypatch.setattr(selecting, "ROW_GROUP_ROWS", 25)  # each partition's 250 kept rows: 10 row groups
    seen, progress = [], jobs.Job.progress

    def recording(job, done, total, message=""):
        progress(job, done, total, message)
        if job.label == "Full-data selection":
            seen.append((job.fraction, job.message, job.describe()))

    monkeypatch.setattr(jobs.Job, "progress", recording)
    at = _page(loaded, "tune")
    at.selectbox(key="tune_kind").set_value("top").run()
    at.selectbox(key="tune_scorer").set_value("label_noise").run()
    at.slider(key="tune_keep").set_value(50).run()
    _page(at, "export")
    at.text_input(key="export_full_out").set_value(str(scored["root"] / "batches" / "kept"))
    at.text_input(key="export_full_manifest").set_value(str(scored["root"] / "batches" / "kept.json"))
    at.radio(key="export_full_engine").set_value("serial").run()
    at.button(key="export_full_write").click().run()
    _wait(at, "full_selection")
    _ok(at)
    fractions = [fraction for fraction, _, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    writing = {fraction for fraction, message, _ in seen if message.startswith("writing")}
    assert len(writing) >= 3 * PARTITIONS  # several moves inside every partition, not one per partition
    reading = {fraction for fraction, message, _ in seen if message.startswith("reading")}
    assert len(reading) >= PARTITIONS  # the summaries move per partition too
    assert any(re.search(r"about \d+ (s|min) left", text) for _, _, text in seen)  # the bar's line says it
    assert len(pd.read_parquet(scored["root"] / "batches" / "kept")) == ROWS // 2


def test_a_new_seed_keeps_the_scores_read_from_partitions(loaded):
    at = _page(loaded, "data")
    at.sidebar.number_input(key="settings_seed").set_value(3).run()
    _ok(at)
    assert set(SCORERS) <= set(at.session_state["score_table"].columns)  # they cannot be recomputed here
    at.sidebar.number_input(key="settings_seed").set_value(0).run()


def test_a_strategy_that_does_not_run_on_partitions_says_which_do(loaded):
    at = _page(loaded, "tune")
    offered = at.selectbox(key="tune_kind").options
    names = {k.title: k.name for k in strategy_kinds()}
    other = next(names.get(title, title) for title in offered if names.get(title, title) not in PARTITIONED_KINDS)
    at.selectbox(key="tune_kind").set_value(other).run()
    assert not at.exception
    _page(at, "export")
    warning = " ".join(w.value for w in at.warning)
    assert "does not run on the full partitioned data" in warning
    assert all(kind in warning for kind in ("random", "<scorer>[:high|:low]"))
    assert not [b for b in at.button if b.key == "export_full_write"]


def test_a_score_computed_on_the_sample_only_is_refused_for_the_full_data(loaded):
    _compute(loaded, ["margin"])  # in memory, on the sample: the partitions have no margin scores
    at = _page(loaded, "tune")
    at.selectbox(key="tune_kind").set_value("top").run()
    at.selectbox(key="tune_scorer").set_value("margin").run()
    _ok(at)
    _page(at, "export")
    warning = " ".join(w.value for w in at.warning)
    assert "reads only the scores written for the partitions" in warning and "'margin'" in warning
    assert not [b for b in at.button if b.key == "export_full_write"]


def test_bad_folders_show_one_error_and_keep_the_loaded_data(scored, tmp_path):
    at = _app()
    ds = at.session_state["dataset"]
    short = tmp_path / "short_scores"
    short.mkdir()
    for path in sorted(scored["scores"].glob("*"))[:2]:  # one partition missing
        (short / path.name).write_bytes(path.read_bytes())
    cases = [(tmp_path / "missing", scored["scores"], "rid", "no such file or folder"),
             (scored["data"], scored["data"], "rid", "_workbench_scores.json"),
             (scored["data"], short, "rid", "partitions"),
             (scored["data"], scored["scores"], "", "other label/id/feature columns")]
    for data, scores, id_column, expected in cases:
        _load(at, data, scores, id_column=id_column)
        assert len(at.error) == 1 and expected in at.error[0].value, (expected, [e.value for e in at.error])
        assert at.session_state["dataset"] is ds and at.session_state["partitioned"] is None


def test_the_source_is_absent_in_server_mode(monkeypatch):
    monkeypatch.setenv("WORKBENCH_SERVER_MODE", "1")
    try:
        at = _app()
        assert "Scored partitions" not in at.segmented_control(key="data_source").options
        at.segmented_control(key="data_source").set_value("Scored partitions").run()
        _ok(at)
        assert not [t for t in at.text_input if t.key and t.key.startswith("data_parts_")]
    finally:
        monkeypatch.delenv("WORKBENCH_SERVER_MODE")
        settings.operator.cache_clear()

