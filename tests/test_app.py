"""AppTest checks of every page: renders on every bundled sample, live estimate, export, errors,
state that never lags, signals that never contradict, and the server mode.

Each test drives ``workbench/app.py`` (the router) and switches pages as a user would. UMAP is
switched off (it compiles numba for a minute in a fresh process); the background UMAP job has its
own small test below. Scoring uses two cheap scorers so that every sample stays quick.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ["WORKBENCH_UMAP"] = "off"
from streamlit.testing.v1 import AppTest  # noqa: E402

import core  # noqa: E402
from core.data import list_samples  # noqa: E402
from workbench import settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "workbench" / "app.py")
PAGES = {name: f"../pages/{name}.py" for name in ("data", "scores", "map", "tune", "export")}

pytestmark = pytest.mark.app  # `make test-fast` leaves the app's tests to `make test`

CHEAP = ["knn_density", "margin", "label_noise"]  # geometry and model scorers (one shared out-of-fold fit)
FAST = ["knn_density", "prototypicality"]  # quick on every sample (model scorers take a minute on images)
SAMPLES = [s["name"] for s in list_samples()]
#: Seconds an AppTest run or a background job may take: generous, so a machine at load 6 on 2 cores only
#: makes these tests slower (every wait below polls; none sleeps a fixed time and hopes).
PATIENCE = 600


def _app() -> AppTest:
    settings.operator.cache_clear()
    at = AppTest.from_file(APP, default_timeout=PATIENCE)
    at.run()  # draws the page, opens the sample, reruns
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _page(at: AppTest, name: str) -> AppTest:
    at.switch_page(PAGES[name]).run()
    _ok(at)
    return at


def _wait(at: AppTest, job: str, timeout: float = PATIENCE) -> None:
    deadline = time.time() + timeout
    while job in at.session_state["jobs"]:
        assert time.time() < deadline, f"job {job} did not finish in {timeout} s"
        time.sleep(0.3)
        at.run()


def _compute(at: AppTest, names=CHEAP) -> None:
    _page(at, "scores")
    for box in at.checkbox:
        if box.key and box.key.startswith("scores_pick_"):
            box.set_value(box.key.removeprefix("scores_pick_") in names)
    at.run()
    compute = at.button(key="scores_compute")
    if not compute.disabled:
        compute.click().run()
        _wait(at, "scores")
    _ok(at)
    assert set(names) <= set(at.session_state["score_table"].columns)


def _load_sample(at: AppTest, name: str) -> None:
    _page(at, "data")
    if at.session_state["origin"] != f"Sample: {name}":
        at.selectbox(key="data_sample").set_value(name).run()
        kind = {s["name"]: s["kind"] for s in list_samples()}[name]
        if kind == "text":  # TF-IDF instead of sentence embeddings: seconds instead of a minute on CI
            at.selectbox(key="data_sample_text_method").set_value("tfidf").run()
        at.button(key="data_load_sample").click().run()
        _ok(at)
    assert at.session_state["origin"] == f"Sample: {name}"


def _metrics(at: AppTest) -> dict:
    return {m.label.split(" ·")[0]: m for m in at.metric}


def _sidebar(at: AppTest) -> str:
    return " | ".join(c.value for c in at.sidebar.caption)


@pytest.fixture(scope="module")
def scored_app():
    """The known-answer sample (preloaded) with the cheap scorers computed."""
    at = _app()
    assert at.session_state["origin"] == "Sample: known_answer"
    _compute(at)
    return at


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_page_renders_on_each_sample(sample):
    at = _app()
    _load_sample(at, sample)
    ds = at.session_state["dataset"]
    assert ds.n_samples > 0 and any(m.label == "Rows" for m in at.metric)
    _compute(at, FAST)
    assert [t.label for t in at.tabs][:2] == ["Distributions", "Agreement"]
    for page in ("map", "tune", "export"):
        _page(at, page)
    assert _metrics(at)["Rows kept"].value == f"{int(round(0.7 * ds.n_samples)):,}"
    assert not at.session_state["jobs"]


def test_moving_the_slider_changes_the_estimate_and_the_sidebar_follows(scored_app):
    at = _page(scored_app, "tune")
    at.selectbox(key="tune_kind").set_value("top").run()
    at.selectbox(key="tune_scorer").set_value("margin").run()
    _ok(at)
    before = _metrics(at)["Pruned"].value
    at.slider(key="tune_keep").set_value(30).run()
    _ok(at)
    assert _metrics(at)["Rows kept"].value == "900" and _metrics(at)["Pruned"].value != before
    assert at.session_state["recipe"] == {"strategy": "margin", "keep": 0.3, "threshold": None}
    # the sidebar and the auto button describe the state of this very run
    assert "Strategy: margin (keep 30%)" in _sidebar(at)
    assert at.button(key="tune_auto").label == "Recommend a strategy at 30%"
    at.radio(key="tune_budget").set_value("Threshold").run()
    _ok(at)
    assert at.session_state["recipe"]["threshold"] is not None and "threshold" in _sidebar(at)
    _page(at, "data")
    _page(at, "tune")
    assert at.radio(key="tune_budget").value == "Threshold"
    at.radio(key="tune_budget").set_value("Keep fraction").run()
    assert at.session_state["recipe"]["keep"] == 0.3


def test_signs_colours_and_cuts_never_contradict(scored_app):
    at = _page(scored_app, "tune")
    at.selectbox(key="tune_kind").set_value("random").run()
    _ok(at)
    random_card = _metrics(at)["Random"]
    assert "draws" in random_card.delta  # the baseline itself: no "pruned vs random" arrow
    # keeping only the easiest tenth (far from every boundary) loses to random of the same size
    at.selectbox(key="tune_kind").set_value("top").run()
    at.selectbox(key="tune_scorer").set_value("margin").run()
    at.radio(key="tune_end").set_value("high").run()
    at.slider(key="tune_keep").set_value(10).run()
    _ok(at)
    if "fold_scores" in at.session_state["jobs"]:  # margin reads the labels: no verdict while the figure is optimistic
        assert not any("This subset" in w.value for w in list(at.warning) + list(at.success))
        assert any(m.label == "Pruned · optimistic" for m in at.metric)
        assert _metrics(at)["Pruned"].color == _metrics(at)["Full data"].color  # grey: no green or red arrow
        _wait(at, "fold_scores")
    cards = _metrics(at)
    pruned, rand = float(cards["Pruned"].value.rstrip("%")), float(cards["Random"].value.rstrip("%"))
    assert pruned < rand
    assert cards["Random"].delta.startswith("-")  # the sign leads, so Streamlit draws a red down arrow
    assert any("This subset loses" in w.value for w in at.warning)
    _page(at, "export")
    assert any("Think twice before exporting" in w.value for w in at.warning)
    files = at.session_state["memo"]["export_files"][1]
    assert b"This subset loses" in files["summary"]
    _page(at, "tune")
    at.radio(key="tune_end").set_value("default").run()
    from workbench.galleries import current_cut

    values = np.linspace(0, 1, 101)
    assert current_cut(values, "margin", {"strategy": "random", "keep": 0.7, "threshold": None})[0] is None
    cut, label = current_cut(values, "margin", {"strategy": "margin", "keep": 0.3, "threshold": None})
    assert cut is not None and "30%" in label


def test_the_label_noise_gallery_proves_itself(scored_app):
    at = _page(scored_app, "scores")
    at.selectbox(key="scores_gallery").set_value("label_noise").run()
    _ok(at)
    highest = next(d.value for d in at.dataframe if list(d.value.columns[:1]) == ["label_noise"]
                   and d.value["label_noise"].iloc[0] >= d.value["label_noise"].iloc[-1])
    columns = list(highest.columns)
    # the ground truth sits beside the score, before the 24 feature columns
    assert columns.index("is_flipped") < columns.index("f0") and columns.index("true_label") < columns.index("f0")
    planted = highest["is_flipped"].astype(str).str.lower().isin(["true", "1"]).mean()
    assert planted >= 0.5, highest[["label_noise", "label", "true_label", "is_flipped"]]


def test_exact_check_runs_logistic_regression_and_reaches_the_summary(scored_app):
    at = _page(scored_app, "tune")
    at.selectbox(key="tune_kind").set_value("top").run()
    at.selectbox(key="tune_scorer").set_value("margin").run()
    at.slider(key="tune_keep").set_value(50).run()
    at.button(key="tune_exact_run").click().run()
    _ok(at)
    _wait(at, "exact")
    _ok(at)
    result = next(iter(at.session_state["exact_checks"].values()))
    ds = at.session_state["dataset"]
    expected = core.evaluate_exact(ds, core.select(ds, at.session_state["score_table"], strategy="margin",
                                                   keep=0.5).mask, model="logreg", folds=5, seed=0)
    assert result["Pruned"].accuracy == pytest.approx(expected.accuracy)
    assert result["Pruned"].n_kept == 1500 and result["Full data"].n_kept == ds.n_samples
    assert any("Logistic regression" in c.value for c in at.caption)
    assert at.button(key="tune_exact_run").label == "Run the exact check again"  # the button stays
    _page(at, "export")
    assert b"Check with an exact model" in at.session_state["memo"]["export_files"][1]["summary"]


def test_export_bytes_match_the_selection_and_the_workflow(scored_app, tmp_path):
    at = _page(scored_app, "tune")
    at.selectbox(key="tune_kind").set_value("ccs").run()
    at.selectbox(key="tune_scorer").set_value("margin").run()
    at.slider(key="tune_keep").set_value(40).run()
    _ok(at)
    ds, recipe, table = at.session_state["dataset"], at.session_state["recipe"], at.session_state["score_table"]
    expected = core.select(ds, table, strategy=recipe["strategy"], keep=recipe["keep"], seed=0)
    at = _page(at, "export")
    rows = at.session_state["memo"]["export_rows"][1]
    assert not rows.ready  # a CSV is made when its download is clicked, not on every run of the page
    for job in ("fold_scores", "random_reference"):  # the leak-free figure and the exact random reference
        _wait(at, job)
    _ok(at)
    files = at.session_state["memo"]["export_files"][1]  # exactly the bytes the download buttons serve
    assert files.rows is rows and not rows.ready  # the final figures remade the manifest, not the rows
    kept = pd.read_csv(io.BytesIO(files["rows"]), dtype=str, keep_default_na=False)
    assert rows.ready and rows() is files["rows"]  # made once
    manifest = json.loads(files["manifest"])
    assert kept["id"].tolist() == list(map(str, expected.kept_ids)) == list(map(str, manifest["kept_ids"]))
    assert list(kept.columns) == list(ds.frame.columns)
    assert manifest["estimate"]["leak_free"] is True
    notebook = json.loads(core.manifest_bytes(ds, expected, manifest["estimate"], table))
    same = {k: v for k, v in manifest.items() if k != "created"}
    assert same == {k: v for k, v in notebook.items() if k != "created"}
    at.radio(key="export_format").set_value("Parquet").run()
    assert at.session_state["memo"]["export_rows"][1].ready  # Parquet is made at once (a column it cannot hold is said)
    served = pd.read_parquet(io.BytesIO(at.session_state["memo"]["export_files"][1]["rows"]))
    assert list(map(str, served["id"])) == list(map(str, expected.kept_ids))
    at.checkbox(key="export_scores").check().run()
    at.text_input(key="export_folder").set_value(str(tmp_path)).run()
    at.button(key="export_write").click().run()
    _ok(at)
    written = pd.read_parquet(tmp_path / "known_answer_kept.parquet")
    assert list(map(str, written["id"])) == list(map(str, expected.kept_ids))
    assert {"knn_density", "margin"} <= set(written.columns)
    assert (tmp_path / "known_answer_summary.html").exists()


def test_map_edits_apply_everywhere_and_undo(scored_app):
    at = _page(scored_app, "tune")
    at.selectbox(key="tune_kind").set_value("random").run()
    at.slider(key="tune_keep").set_value(50).run()
    ds = at.session_state["dataset"]
    at.session_state["forced"] = [{"action": "keep", "ids": list(ds.ids[:40]), "note": "40 rows on the PCA map"},
                                  {"action": "drop", "ids": list(ds.ids[:10]), "note": "10 rows on the PCA map"}]
    at = _page(at, "map")
    assert any("Map edits (2)" in m.value for m in at.markdown)
    assert any("Force-dropped: 10 rows" in c.value for c in at.caption)
    assert "Map edits: 2" in _sidebar(at)
    at = _page(at, "export")
    kept = set(json.loads(at.session_state["memo"]["export_files"][1]["manifest"])["kept_ids"])
    assert not kept & set(ds.ids[:10]) and set(ds.ids[10:40]) <= kept
    at = _page(at, "map")
    at.button(key="map_undo_1").click().run()
    _ok(at)
    assert len(at.session_state["forced"]) == 1
    at.button(key="map_clear").click().run()
    assert at.session_state["forced"] == [] and "Map edits" not in _sidebar(at)


def test_curve_once_per_strategy_and_auto_applies_with_the_sidebar(scored_app):
    at = _page(scored_app, "tune")
    at.selectbox(key="tune_kind").set_value("random").run()
    at.slider(key="tune_keep").set_value(50).run()
    at.multiselect(key="tune_curve_strategies").set_value(["margin"]).run()
    at.button(key="tune_curve").click().run()
    _wait(at, "curve")
    _ok(at)
    curve = next(iter(at.session_state["curves"].values()))
    assert set(curve["strategy"]) == {"random", "margin"}
    from workbench.tuning import canonical

    assert canonical(["ccs:margin", "ccs:margin:beta=0.1", "margin"]) == ["ccs:margin", "margin"]
    at.button(key="tune_auto").click().run()
    _wait(at, "auto")
    _ok(at)
    result = at.session_state["auto_result"]
    assert result["keep"] == 0.5 and result["chosen"]
    tried = next(d.value for d in at.dataframe if {"chosen", "strategy", "vs_random"} <= set(d.value.columns))
    assert len(tried) >= 3 and tried["chosen"].sum() == 1  # the whole table, every column, one winner
    from core.selection import format_strategy

    assert all(text == format_strategy(text) for text in tried["strategy"])  # shown as the grammar writes them
    at.button(key="tune_auto_apply").click().run()
    _ok(at)
    assert at.session_state["recipe"]["strategy"] == result["chosen"]
    assert f"Strategy: {result['chosen']} (keep 50%)" in _sidebar(at)  # on the same run as the click
    assert any("(applied)" in s.value for s in at.success)


def test_cancel_keeps_finished_scorers_and_says_so():
    at = _app()
    at.session_state["score_table"] = None  # as if nothing were computed yet (core's disk cache still helps)
    _page(at, "scores")
    slow = [m["name"] for m in core.list_scorers() if m["family"] == "dynamics"]
    for box in at.checkbox:
        if box.key and box.key.startswith("scores_pick_"):
            box.set_value(box.key.removeprefix("scores_pick_") in ["prototypicality"] + slow)
    at.run()
    at.button(key="scores_compute").click().run()
    job = at.session_state["jobs"]["scores"]
    deadline = time.time() + PATIENCE
    while job.partial is None and job.running and time.time() < deadline:
        time.sleep(0.2)
    at.run()
    if "scores" in at.session_state["jobs"]:
        at.button(key="scores_scores_cancel").click().run()
    _wait(at, "scores")
    _ok(at)
    assert "prototypicality" in at.session_state["score_table"].columns
    assert job.status == "cancelled"
    assert any("cancelled" in i.value and "prototypicality" in i.value for i in at.info)


def test_a_new_data_set_starts_clean(scored_app):
    at = _page(scored_app, "tune")
    at.multiselect(key="tune_curve_strategies").set_value(["margin"]).run()
    _load_sample(at, "penguins")
    _ok(at)
    assert "344 rows" in _sidebar(at) and "Scores: none yet" in _sidebar(at)
    assert at.session_state["forced"] == [] and at.session_state["curves"] == {}
    _page(at, "tune")
    assert at.multiselect(key="tune_curve_strategies").value == []
    assert at.session_state["recipe"]["strategy"] == "random"
    _load_sample(at, "known_answer")
    assert "3,000 rows" in _sidebar(at)


def test_every_session_key_is_declared_and_the_process_is_untouched(scored_app):
    environ = dict(os.environ)
    at = scored_app
    for page in ("data", "scores", "map", "tune", "export"):
        _page(at, page)
    at.sidebar.number_input(key="settings_seed").set_value(3).run()
    _ok(at)
    assert at.session_state["seed"] == 3 and at.session_state["score_table"] is None
    at.sidebar.number_input(key="settings_seed").set_value(0).run()
    from workbench.state import KEYS, WIDGET_PREFIXES

    stray = [k for k in at.session_state.keys() if k not in KEYS and not k.startswith(WIDGET_PREFIXES)]
    assert not stray, stray
    assert dict(os.environ) == environ  # a session never changes the process
    assert not any("Cache folder" in t.label for t in at.text_input)


def test_user_errors_show_plainly_and_keep_the_data(tmp_path):
    at = _app()
    ds = at.session_state["dataset"]
    at.segmented_control(key="data_source").set_value("Local path").run()
    at.text_input(key="data_path").set_value(str(tmp_path / "missing.csv")).run()
    assert not at.exception
    assert any("does not exist" in e.value for e in at.error)
    assert at.session_state["dataset"] is ds  # nothing loaded is lost
    bad = tmp_path / "tiny.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "label": ["a", "a", "b", "b"]}).to_csv(bad, index=False)
    at.text_input(key="data_path").set_value(str(bad)).run()
    at.button(key="data_path_load").click().run()
    assert not at.exception
    assert any("Too few rows" in e.value for e in at.error)
    assert at.session_state["dataset"] is ds


def test_server_mode_turns_off_local_paths_folder_writes_and_cache_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_SERVER_MODE", "1")
    try:
        at = _app()
        assert "Local path" not in at.segmented_control(key="data_source").options
        # a forged widget value is refused: the source falls back and no path box appears
        at.segmented_control(key="data_source").set_value("Local path").run()
        _ok(at)
        assert at.segmented_control(key="data_source").value == "Bundled sample"
        assert not [t for t in at.text_input if t.key == "data_path"]
        _page(at, "export")
        assert any(b.label.startswith("Kept rows") for b in at.get("download_button"))
        assert not [t for t in at.text_input if t.key == "export_folder"]
        assert not [b for b in at.button if b.key == "export_write"]
        sidebar_text = _sidebar(at)
        assert "WORKBENCH_CACHE_DIR" not in sidebar_text and os.environ["WORKBENCH_CACHE_DIR"] not in sidebar_text
    finally:
        monkeypatch.delenv("WORKBENCH_SERVER_MODE")
        settings.operator.cache_clear()


def test_a_second_upload_starts_from_its_own_columns_not_the_last_files_picks():
    # the feature picks of one file carried over to the next: it loaded 2 of its 4 features, or none
    rng = np.random.default_rng(1)
    first = pd.DataFrame(rng.normal(size=(60, 2)), columns=["x0", "x1"]).assign(label=["u", "v"] * 30)
    second = pd.DataFrame(rng.normal(size=(60, 4)), columns=["a", "b", "c", "d"]).assign(label=["u", "v"] * 30)
    at = _app()
    at.segmented_control(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="data_upload").set_value(("one.csv", first.to_csv(index=False).encode(), "text/csv")).run()
    at.multiselect(key="data_up_features").set_value(["x0"]).run()
    at.file_uploader(key="data_upload").set_value(("two.csv", second.to_csv(index=False).encode(), "text/csv")).run()
    _ok(at)
    assert at.multiselect(key="data_up_features").value == ["a", "b", "c", "d"]
    at.button(key="data_up_load").click().run()
    _ok(at)
    assert at.session_state["dataset"].feature_names == ["a", "b", "c", "d"]


def test_a_strategy_option_out_of_range_is_one_message_not_a_traceback():
    at = _app()
    _compute(at)
    at = _page(at, "tune")
    at.selectbox(key="tune_kind").set_value("ccs").run()
    for option, value in (("beta", -5.0), ("bins", 0)):
        at.number_input(key=f"tune_option_ccs_{option}").set_value(value).run()
        assert not at.exception, [e.value for e in at.exception]
        assert [e.value for e in at.error if option in e.value and "Valid forms" not in e.value], \
            [e.value for e in at.error]
        at.number_input(key=f"tune_option_ccs_{option}").set_value(0.1 if option == "beta" else 50).run()
    _ok(at)


def test_a_text_table_in_another_encoding_is_refused_with_app_advice_then_loads_once_chosen():
    # UTF-16 without a byte-order mark: auto-detection cannot read it; the message used to name --encoding
    frame = pd.DataFrame({"name": ["Zoë", "Łódź", "naïve", "Ærø"] * 15, "x": np.arange(60.0),
                          "label": ["u", "v", "w"] * 20})
    data = frame.to_csv(index=False).encode("utf-16-le")
    at = _app()
    at.segmented_control(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="data_upload").set_value(("wide.csv", data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "Encoding" in errors[0] and "--" not in errors[0], errors
    assert at.selectbox(key="data_up_encoding").value == "auto"
    at.selectbox(key="data_up_encoding").set_value("utf-16-le").run()
    _ok(at)
    at.button(key="data_up_load").click().run()
    _ok(at)
    ds = at.session_state["dataset"]
    assert ds.n_samples == 60 and ds.settings.get("encoding") == "utf-16-le"
    assert list(ds.frame["name"][:4]) == ["Zoë", "Łódź", "naïve", "Ærø"]  # the user's characters, unchanged


def test_a_guessed_encoding_note_gives_the_apps_advice_not_the_clis():
    frame = pd.DataFrame({"city": ["Zürich", "Genève", "Malmö"] * 20, "x": np.arange(60.0), "label": ["u", "v"] * 30})
    at = _app()
    at.segmented_control(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="data_upload").set_value(("latin.csv", frame.to_csv(index=False).encode("cp1252"),
                                                   "text/csv")).run()
    at.button(key="data_up_load").click().run()
    _ok(at)
    shown = " ".join(str(getattr(e, "value", "")) for e in list(at.info) + list(at.warning) + list(at.caption)
                     + list(at.markdown))
    assert "Windows-1252" in shown and "“Encoding” box" in shown and "--encoding" not in shown, shown
    assert list(at.session_state["dataset"].frame["city"][:3]) == ["Zürich", "Genève", "Malmö"]


def test_export_says_which_kept_cells_a_spreadsheet_would_run_and_escapes_them_only_when_asked():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120),
                          "note": ["=HYPERLINK(\"http://x\")", "-2+3", "-1.5", "plain"] * 30})
    frame["label"] = np.where(frame["a"] > 0, "yes", "no")
    at = _app()
    at.segmented_control(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="data_upload").set_value(("notes.csv", frame.to_csv(index=False).encode(), "text/csv")).run()
    at.multiselect(key="data_up_features").set_value(["a", "b"]).run()
    at.button(key="data_up_load").click().run()
    _ok(at)
    at = _page(at, "export")
    warned = [w.value for w in at.warning if "Formula-safe CSV" in w.value]
    assert len(warned) == 1 and "note (" in warned[0], [w.value for w in at.warning]

    def served():
        return pd.read_csv(io.BytesIO(at.session_state["memo"]["export_files"][1]["rows"]), dtype=str,
                           keep_default_na=False)

    kept = served()
    assert set(kept["note"]) <= {"=HYPERLINK(\"http://x\")", "-2+3", "-1.5", "plain"}  # unchanged by default
    at.checkbox(key="export_formula_safe").check().run()
    _ok(at)
    escaped = served()
    assert escaped["a"].tolist() == kept["a"].tolist() and list(escaped.columns) == list(kept.columns)
    expected = kept["note"].map(lambda v: "'" + v if v in ("=HYPERLINK(\"http://x\")", "-2+3") else v)
    assert escaped["note"].tolist() == expected.tolist()  # only the formula-like cells; -1.5 is a number
    assert at.session_state["dataset"].frame["note"].tolist() == frame["note"].tolist()  # the loaded data untouched


def test_upload_limit_is_bounded_and_configured():
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    limit = int(next(line for line in config.splitlines() if line.startswith("maxUploadSize")).split("=")[1])
    assert 1 <= limit <= 500
    at = _app()
    at.segmented_control(key="data_source").set_value("Upload a file").run()
    assert f"up to {limit:,} MB" in at.file_uploader(key="data_upload").label


def test_upload_a_csv_and_choose_columns():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 4)), columns=["a", "b", "c", "leak"])
    frame.insert(0, "row", [f"r{i}" for i in range(120)])
    frame["target"] = np.where(frame["a"] > 0, "yes", "no")
    at = _app()
    at.segmented_control(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="data_upload").set_value(("mine.csv", frame.to_csv(index=False).encode(), "text/csv")).run()
    _ok(at)
    assert at.selectbox(key="data_up_label").value == "target"
    at.selectbox(key="data_up_id").set_value("row").run()
    at.multiselect(key="data_up_features").set_value(["a", "b", "c"]).run()
    at.button(key="data_up_load").click().run()
    _ok(at)
    ds = at.session_state["dataset"]
    assert ds.n_samples == 120 and ds.feature_names == ["a", "b", "c"] and ds.ids[0] == "r0"
    assert at.session_state["origin"] == "Upload: mine.csv"


def test_display_downsampling_keeps_the_shares_of_kept_and_dropped():
    from workbench.maps import display_sample

    rng = np.random.default_rng(0)
    ds = core.Dataset.from_arrays(rng.normal(size=(100_000, 3)), rng.integers(0, 4, 100_000))
    mask = rng.random(100_000) < 0.5
    flagged = rng.random(100_000) < 0.02
    shown = display_sample(ds, mask, flagged, limit=20_000)
    assert len(shown) <= 20_000 + 2 * ds.n_classes and np.all(np.diff(shown) > 0)
    assert set(np.flatnonzero(flagged)) <= set(shown)  # 2,000 flagged rows fit in the flagged quarter
    assert abs(mask[shown].mean() - mask.mean()) < 0.03  # a 50% keep looks like 50%, not mostly red


def test_projection_pca_now_umap_in_the_background():
    from core.projection import cached_projection, start_umap

    rng = np.random.default_rng(1)
    ds = core.Dataset.from_arrays(np.r_[rng.normal(0, 1, (150, 6)), rng.normal(4, 1, (150, 6))], [0] * 150 + [1] * 150)
    pca = core.project(ds, method="pca")
    assert pca.shape == (300, 2) and np.isfinite(pca).all()
    assert cached_projection(ds, "pca") is not None
    job = start_umap(ds)
    assert start_umap(ds) is job  # one job per data set
    deadline = time.time() + PATIENCE
    coords = None
    while coords is None and time.time() < deadline:
        assert not job.failed, job.error_
        time.sleep(1)
        coords = job.poll()
    assert coords is not None and coords.shape == (300, 2)
    assert np.array_equal(core.project(ds, method="umap"), coords)  # served from the disk cache
    with pytest.raises(core.WorkbenchError):
        core.project(ds, method="tsne")


def test_costly_coresets_run_on_request(scored_app, monkeypatch):
    from workbench import tuning

    monkeypatch.setattr(tuning, "COSTLY_ROWS", 1_000)  # treat the 3k-row sample like a 50k one
    at = _page(scored_app, "tune")
    at.selectbox(key="tune_kind").set_value("kcenter").run()
    _ok(at)
    assert "Rows kept" not in _metrics(at)
    _page(at, "export")  # the other pages fall back to random and say so
    assert any("has not been computed yet" in w.value for w in at.warning)
    at = _page(at, "tune")
    at.button(key="tune_costly").click().run()
    _wait(at, "select")
    _ok(at)
    assert _metrics(at)["Rows kept"].value == f"{int(round(at.session_state['recipe']['keep'] * 3000)):,}"
    at.selectbox(key="tune_kind").set_value("random").run()


def test_upload_a_zip_of_an_image_folder_shows_pictures():
    import zipfile

    from PIL import Image

    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label in ("cats", "dogs"):
            for i in range(6):
                pixels = (rng.random((12, 12)) * (255 if label == "cats" else 60)).astype(np.uint8)
                png = io.BytesIO()
                Image.fromarray(pixels).save(png, format="PNG")
                archive.writestr(f"pets/{label}/{i}.png", png.getvalue())
    at = _app()
    at.segmented_control(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="data_upload").set_value(("pets.zip", buffer.getvalue(), "application/zip")).run()
    _ok(at)
    at.button(key="data_up_load").click().run()
    _ok(at)
    ds = at.session_state["dataset"]
    assert ds.kind == "image" and ds.n_samples == 12 and ds.images is not None
    _compute(at, ["knn_density"])
    assert len(at.get("image")) >= 8  # the gallery shows pictures, not a table
    _page(at, "map")
    at.selectbox(key="map_colour").set_value("Class").run()
    _ok(at)


def test_workbench_app_server_flag_sets_server_mode():
    import subprocess
    import sys

    command = [sys.executable, "-m", "core.cli", "app", "--server", "--dry-run", "--server.port", "8765"]
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_SERVER_MODE"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("WORKBENCH_SERVER_MODE=1 ") and "--server.port 8765" in result.stdout
    plain = subprocess.run(command[:4] + command[5:], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "WORKBENCH_SERVER_MODE" not in plain.stdout


def test_a_job_that_ends_on_another_page_lands_at_once():
    at = _app()
    at.session_state["score_table"] = None
    _page(at, "scores")
    for box in at.checkbox:
        if box.key and box.key.startswith("scores_pick_"):
            box.set_value(box.key == "scores_pick_outlier")  # computed by no other test here
    at.run()
    at.button(key="scores_compute").click().run()
    job = at.session_state["jobs"]["scores"]
    _page(at, "map")
    if "scores" in at.session_state["jobs"]:  # still running: the sidebar says so, on every page
        assert any("Scoring" in c.value for c in at.sidebar.caption)
    assert job.wait(240)
    at.run()
    _ok(at)
    assert not at.session_state["jobs"] and "outlier" in at.session_state["score_table"].columns
    assert "Scores: 1" in _sidebar(at)
    assert "Score: outlier" in at.selectbox(key="map_colour").options


def test_tune_figure_is_marked_optimistic_until_fold_wise_scores_replace_it():
    """The live figure of a label-using score first uses the all-rows scores (marked optimistic), then
    the leak-free one: each fold re-selects with scores that never saw its labels."""
    at = _app()  # its own session: the shared one may hold another data set by now
    _compute(at)
    at = _page(at, "tune")
    at.selectbox(key="tune_kind").set_value("ccs").run()
    at.selectbox(key="tune_scorer").set_value("label_noise").run()
    _ok(at)
    if "fold_scores" in at.session_state["jobs"]:
        assert "optimistic" in [m.label for m in at.metric if m.label.startswith("Pruned")][0]
        _wait(at, "fold_scores")
    _ok(at)
    pruned = [m.label for m in at.metric if m.label.startswith("Pruned")][0]
    assert "optimistic" not in pruned
    stored = at.session_state["fold_scores"]
    assert stored is not None and stored[1] is not None and "label_noise" in stored[1].frames[0].columns


def test_a_file_name_is_shown_as_typed_not_as_markdown():
    from workbench.cards import literal

    name = "[click me](http://example.com) **bold** #1.csv"
    shown = literal(name)
    bare = [i for i, ch in enumerate(shown) if ch in "[]()*#" and (i == 0 or shown[i - 1] != "\\")]
    assert not bare, f"unescaped Markdown in {shown!r}"
    assert shown.replace("\\", "") == name  # the text itself is unchanged
