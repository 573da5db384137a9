"""The ``workbench`` CLI, exercised through ``core.cli.main(argv)`` as a user or a pipeline runs it.

Covers every subcommand's happy path, determinism (same command and seed -> same bytes, the second
run in a fresh process), the manifest round trip, and the error contract over a table of malformed
inputs: exit code 2, one line on stderr, no traceback, no output file (not even a temporary one),
the input unchanged. Most cases call ``main`` in this process (``run_main``); the smoke tests at the
end start the real console script and ``python -m core.cli`` (``run_cli``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_runner import digest, run_cli, run_main
from streamlit_server import free_port, serving

ROOT = Path(__file__).resolve().parent.parent
FAST_SCORER = "knn_density"  # geometry scorer: no model training, so each call stays short


def assert_ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert "Traceback" not in result.stderr


def assert_clean_error(result, outputs=(), inputs=None):
    """The error contract: exit 2, one line on stderr, no traceback, no output, input untouched."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("workbench: error: ") and len(lines[0]) > len("workbench: error: ") + 10
    assert "Traceback" not in result.stderr
    for output in outputs:
        assert not Path(output).exists(), f"{output} was written"
        folder = Path(output).parent
        if folder.exists():
            assert not list(folder.glob(".*.tmp")), "a temporary file was left behind"
    for path, before in (inputs or {}).items():
        assert digest(Path(path)) == before, f"{path} was modified"


def make_frame(n_per_class: int = 30, seed: int = 0) -> pd.DataFrame:
    """Three separable classes, string ids, a categorical column, columns in a deliberate order."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, name in enumerate(["adelie", "chinstrap", "gentoo"]):
        centre = np.array([3.0 * k, -2.0 * k, 1.5 * k, 0.0])
        for _ in range(n_per_class):
            rows.append([*(centre + rng.normal(size=4)), name, rng.choice(["red", "blue"])])
    frame = pd.DataFrame(rows, columns=["f0", "f1", "f2", "f3", "species", "colour"])
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    frame.insert(2, "sample_id", [f"s{i:03d}" for i in range(len(frame))])
    return frame


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-data")
    make_frame().to_csv(folder / "data.csv", index=False)
    return folder


@pytest.fixture
def data_csv(data_dir, tmp_path):
    target = tmp_path / "data.csv"
    target.write_bytes((data_dir / "data.csv").read_bytes())
    return target


DATA_ARGS = ["--label", "species", "--id", "sample_id", "--folds", "3"]


# --------------------------------------------------------------------------------------- scorers
def test_scorers_lists_metadata_as_json_and_table():
    result = run_main("scorers", "--json")
    assert_ok(result)
    rows = json.loads(result.stdout)
    names = {row["name"] for row in rows}
    assert {"knn_density", "el2n", "label_noise", "duplicate", "margin"} <= names
    for row in rows:
        assert {"name", "family", "description", "higher_means", "keep", "needs_labels", "flags"} <= set(row)
        assert row["keep"] in ("high", "low") and isinstance(row["flags"], bool)
    table = run_main("scorers")
    assert_ok(table)
    assert "knn_density" in table.stdout and "higher means" in table.stdout


def test_scorers_json_carries_every_metadata_key():
    from core.scorers import METADATA_KEYS, list_scorers

    rows = json.loads(run_main("scorers", "--json").stdout)
    assert [list(row) for row in rows] == [list(METADATA_KEYS)] * len(list_scorers())
    assert "hard" in METADATA_KEYS and {row["hard"] for row in rows} <= {"high", "low", None}
    help_text = " ".join(run_main("scorers", "--help").stdout.split())
    assert f"({', '.join(METADATA_KEYS)})" in help_text


@pytest.mark.parametrize("command", ["select", "curve"])
def test_strategy_help_lists_every_registered_kind(command):
    from core.selection import aliases, strategy_kinds

    result = run_main(command, "--help")
    assert_ok(result)
    lines = result.stdout.split("strategies:\n", 1)[1].splitlines()
    listed = [line.split()[0] for line in lines[: len(strategy_kinds())]]
    assert listed == [kind.syntax for kind in strategy_kinds()]
    assert all(f"  {alias} " in result.stdout for alias in aliases())
    assert {"d2", "moderate", "ambiguous"} <= {kind.name for kind in strategy_kinds()}


def test_scorer_names_have_one_resolver():
    from core.cli import support
    from core.scorers import DEFAULT_SCORERS, registered_names

    assert support.resolve_scorer_names(None) == list(DEFAULT_SCORERS)
    assert support.resolve_scorer_names("all") == registered_names()
    assert support.resolve_scorer_names("el2n, margin,el2n") == ["el2n", "margin"]
    with pytest.raises(Exception, match="--scorers: Unknown scorer 'nope'.*see `workbench scorers`"):
        support.resolve_scorer_names("el2n,nope")


@pytest.mark.parametrize("command", ["scorers", "score", "curve", "select", "apply", "app"])
def test_every_subcommand_has_help_with_examples(command):
    result = run_main(command, "--help")
    assert_ok(result)
    assert "usage: workbench" in result.stdout and "example" in result.stdout


# ----------------------------------------------------------------------------------------- score
def test_score_writes_ids_labels_scores_and_flags_deterministically(data_csv, tmp_path):
    first, second = tmp_path / "a" / "scores.csv", tmp_path / "scores2.csv"
    before = digest(data_csv)
    result = run_main("score", data_csv, *DATA_ARGS, "--scorers", f"{FAST_SCORER},duplicate", "--out", first)
    assert_ok(result)
    assert first.exists(), "the missing output folder is created"
    table = pd.read_csv(first)
    assert list(table.columns[:4]) == ["id", "label", FAST_SCORER, "duplicate"]
    assert "duplicate_flag" in table.columns and table["duplicate_flag"].dtype == bool
    source = pd.read_csv(data_csv)
    assert table["id"].tolist() == source["sample_id"].tolist()
    assert table["label"].tolist() == source["species"].tolist()
    assert np.isfinite(table[FAST_SCORER]).all()
    # the same command with the same seed, computed again from scratch, gives the same bytes
    again = run_cli("score", data_csv, *DATA_ARGS, "--scorers", f"{FAST_SCORER},duplicate", "--out", second,
                    env={"WORKBENCH_CACHE_DIR": str(tmp_path / "fresh-cache")})  # a fresh process
    assert_ok(again)
    assert first.read_bytes() == second.read_bytes()
    assert digest(data_csv) == before


def test_score_parquet_output_matches_csv(data_csv, tmp_path):
    out = tmp_path / "scores.parquet"
    assert_ok(run_main("score", data_csv, *DATA_ARGS, "--scorers", FAST_SCORER, "--out", out, "--quiet"))
    table = pd.read_parquet(out)
    assert list(table.columns) == ["id", "label", FAST_SCORER]
    assert len(table) == len(pd.read_csv(data_csv))


def test_progress_bar_goes_to_stderr_only_when_asked(data_csv, tmp_path):
    shown = run_main("score", data_csv, *DATA_ARGS, "--scorers", FAST_SCORER, "--out", tmp_path / "s.csv",
                    env={"WORKBENCH_PROGRESS": "1"})
    assert_ok(shown)
    assert "%" in shown.stderr and "|" in shown.stderr and "%" not in shown.stdout
    quiet = run_main("score", data_csv, *DATA_ARGS, "--scorers", FAST_SCORER, "--out", tmp_path / "q.csv",
                    "--quiet", env={"WORKBENCH_PROGRESS": "1"})
    assert_ok(quiet)
    assert quiet.stdout == "" and "|" not in quiet.stderr


# ----------------------------------------------------------------------------------------- curve
def test_curve_writes_tidy_table_with_random(data_csv, tmp_path):
    out = tmp_path / "curve.csv"
    result = run_main("curve", data_csv, *DATA_ARGS, "--strategies", f"{FAST_SCORER},ccs:{FAST_SCORER}",
                     "--keep", "0.3,0.6,1.0", "--seeds", "2", "--out", out)
    assert_ok(result)
    curve = pd.read_csv(out)
    assert list(curve.columns) == ["strategy", "keep_fraction", "n_kept", "accuracy_mean", "accuracy_std", "leak_free"]
    assert curve["leak_free"].all()  # every point chose its training rows without the held-out fold's labels
    assert {"random", FAST_SCORER, f"ccs:{FAST_SCORER}"} <= set(curve["strategy"])
    assert sorted(curve["keep_fraction"].unique()) == [0.3, 0.6, 1.0]
    assert curve["accuracy_mean"].between(0, 1).all() and (curve["accuracy_std"] >= 0).all()
    full = curve[curve["keep_fraction"] == 1.0]
    assert (full["n_kept"] == 90).all()
    again = tmp_path / "curve2.csv"
    assert_ok(run_main("curve", data_csv, *DATA_ARGS, "--strategies", f"{FAST_SCORER},ccs:{FAST_SCORER}",
                      "--keep", "1.0,0.6,0.3", "--seeds", "2", "--out", again, "-q",
                      env={"WORKBENCH_CACHE_DIR": str(tmp_path / "fresh-cache")}))
    assert again.read_bytes() == out.read_bytes()


# ------------------------------------------------------------------------------- select & apply
def _select(data_csv, folder, strategy=f"ccs:{FAST_SCORER}", keep="0.5", extra=(), env=None, run=run_main):
    out, manifest = folder / "kept.csv", folder / "manifest.json"
    result = run("select", data_csv, *DATA_ARGS, "--strategy", strategy, "--keep", keep, "--out", out,
                     "--manifest", manifest, *extra, env=env)
    return result, out, manifest


def test_select_writes_kept_rows_and_manifest_and_apply_reproduces_them(data_csv, tmp_path):
    before = digest(data_csv)
    result, out, manifest_path = _select(data_csv, tmp_path / "run1")
    assert_ok(result)
    assert "Kept 45 of 90" in result.stdout
    source, kept = pd.read_csv(data_csv), pd.read_csv(out)
    assert list(kept.columns) == list(source.columns)  # all original columns, original order
    manifest = json.loads(manifest_path.read_text())
    for key in ("kept_ids", "n_input", "n_kept", "strategy", "data_fingerprint", "seed", "version", "estimate",
                "created", "packages", "params", "resolved_strategy", "scorers", "data"):
        assert key in manifest, key
    assert manifest["n_input"] == 90 and manifest["n_kept"] == 45 == len(kept)
    assert manifest["kept_ids"] == kept["sample_id"].tolist()
    assert all(isinstance(i, str) for i in manifest["kept_ids"])
    positions = [source["sample_id"].tolist().index(i) for i in manifest["kept_ids"]]
    assert positions == sorted(positions), "kept rows stay in the data's order"
    pd.testing.assert_frame_equal(kept, source.iloc[positions].reset_index(drop=True))
    estimate = manifest["estimate"]
    assert {"selection", "full", "random"} <= set(estimate)
    assert 0 <= estimate["selection"]["accuracy"] <= 1 and 0 <= estimate["random"]["accuracy"] <= 1
    assert {"numpy", "pandas", "scikit-learn", "torch"} <= set(manifest["packages"])
    assert manifest["scorers"][0]["name"] == FAST_SCORER
    assert manifest["strategy"] == f"ccs:{FAST_SCORER}" and manifest["seed"] == 0

    # the same command and seed: the same bytes, except the manifest's timestamp
    again, out2, manifest2 = _select(data_csv, tmp_path / "run2", run=run_cli,  # in a fresh process
                                     env={"WORKBENCH_CACHE_DIR": str(tmp_path / "fresh-cache")})
    assert_ok(again)
    assert out.read_bytes() == out2.read_bytes()
    second = json.loads(manifest2.read_text())
    manifest.pop("created"), second.pop("created")
    assert manifest == second

    # apply: exactly the same kept ids in the same order, the same bytes
    applied = tmp_path / "applied.csv"
    result = run_main("apply", manifest_path, data_csv, "--out", applied)
    assert_ok(result)
    assert applied.read_bytes() == out.read_bytes()
    assert digest(data_csv) == before


def test_select_parquet_with_scores_file_and_include_scores(data_csv, tmp_path):
    scores = tmp_path / "scores.csv"
    assert_ok(run_main("score", data_csv, *DATA_ARGS, "--scorers", FAST_SCORER, "--out", scores, "-q"))
    out, manifest = tmp_path / "kept.parquet", tmp_path / "m.json"
    result = run_main("select", data_csv, *DATA_ARGS, "--scores", scores, "--strategy", f"{FAST_SCORER}:low",
                     "--keep", "0.4", "--include-scores", "--out", out, "--manifest", manifest)
    assert_ok(result)
    kept = pd.read_parquet(out)
    source = pd.read_csv(data_csv)
    assert list(kept.columns) == list(source.columns) + [FAST_SCORER]
    assert len(kept) == 36
    table = pd.read_csv(scores).set_index("id")
    dropped = table.drop(index=kept["sample_id"])[FAST_SCORER]
    assert kept[FAST_SCORER].max() <= dropped.min() + 1e-12, ":low keeps the lowest scores"
    curve = tmp_path / "curve.csv"
    assert_ok(run_main("curve", data_csv, *DATA_ARGS, "--scores", scores, "--strategies", f"{FAST_SCORER}:low",
                      "--keep", "0.4", "--seeds", "1", "--out", curve, "-q"))
    assert set(pd.read_csv(curve)["strategy"]) == {"random", f"{FAST_SCORER}:low"}


def test_select_threshold_and_integer_ids(tmp_path):
    frame = make_frame(seed=1).drop(columns=["sample_id"])
    data = tmp_path / "plain.csv"
    frame.to_csv(data, index=False)
    out, manifest = tmp_path / "kept.csv", tmp_path / "m.json"
    scores = tmp_path / "s.csv"
    assert_ok(run_main("score", data, "--label", "species", "--folds", "3", "--scorers", FAST_SCORER,
                      "--out", scores, "-q"))
    cut = float(pd.read_csv(scores)[FAST_SCORER].median())
    result = run_main("select", data, "--label", "species", "--folds", "3", "--scores", scores, "--strategy",
                     f"{FAST_SCORER}:high", "--threshold", repr(cut), "--out", out, "--manifest", manifest)
    assert_ok(result)
    document = json.loads(manifest.read_text())
    assert document["threshold"] == cut and document["keep"] is None
    assert all(isinstance(i, int) for i in document["kept_ids"])
    assert document["n_kept"] == len(pd.read_csv(out)) == 45


def test_select_auto_records_the_chosen_strategy(data_csv, tmp_path):
    result, out, manifest = _select(data_csv, tmp_path, strategy="auto", keep="0.5")
    assert_ok(result)
    document = json.loads(manifest.read_text())
    assert document["strategy"] == "auto"
    assert document["resolved_strategy"] and document["resolved_strategy"] != "auto"
    assert document["n_kept"] == len(pd.read_csv(out))
    honest = document["details"]["honest_estimate"]
    assert honest["optimistic"] is False and 0 < honest["accuracy"] <= 1
    assert f"{100 * honest['accuracy']:.1f}%" in result.stdout and "optimistic" in result.stdout


def test_apply_refuses_changed_data_unless_forced(data_csv, tmp_path):
    result, out, manifest = _select(data_csv, tmp_path, strategy="random", keep="0.5")
    assert_ok(result)
    changed = tmp_path / "changed.csv"
    source = pd.read_csv(data_csv)
    kept_ids = json.loads(manifest.read_text())["kept_ids"]
    changed_frame = source[source["sample_id"] != kept_ids[0]].iloc[::-1]  # one kept row gone, order reversed
    changed_frame.to_csv(changed, index=False)
    target = tmp_path / "applied.csv"
    refused = run_main("apply", manifest, changed, "--out", target)
    assert_clean_error(refused, [target], {changed: digest(changed)})
    assert "89 rows instead of 90" in refused.stderr and "--force" in refused.stderr

    forced = run_main("apply", manifest, changed, "--out", target, "--force")
    assert_ok(forced)
    assert "warning" in forced.stderr and kept_ids[0] in forced.stderr
    applied = pd.read_csv(target)
    assert applied["sample_id"].tolist() == kept_ids[1:]  # by id, in the manifest's order
    assert list(applied.columns) == list(source.columns)


def test_apply_rejects_a_file_that_is_not_a_manifest(data_csv, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    target = tmp_path / "out.csv"
    assert_clean_error(run_main("apply", bad, data_csv, "--out", target), [target])
    bad.write_text(json.dumps({"hello": 1}))
    assert_clean_error(run_main("apply", bad, data_csv, "--out", target), [target])


def test_app_launch_command(tmp_path):
    result = run_main("app", "--dry-run", "--server.port", "8765")
    assert_ok(result)
    assert "streamlit run" in result.stdout and result.stdout.rstrip().endswith("--server.port 8765")
    assert "workbench/app.py" in result.stdout.replace(os.sep, "/")


@pytest.mark.slow
@pytest.mark.app
def test_app_launches_streamlit(tmp_path):
    assert (ROOT / "workbench" / "app.py").is_file(), "workbench app launches workbench/app.py, which must exist"
    port = free_port()
    command = [sys.executable, "-m", "core.cli", "app", "--server.headless", "true", "--server.port", str(port),
               "--browser.gatherUsageStats", "false"]
    with serving(command, port, cwd=tmp_path) as process:  # started outside the repo on purpose
        assert process.poll() is None


def test_every_subcommand_is_one_module_of_one_shape():
    """Each subcommand is a module with NAME, add_parsers and run; the parser lists exactly those modules."""
    import inspect

    from core.cli import program

    names = [command.NAME for command in program.COMMANDS]
    assert len(set(names)) == len(names)
    for command in program.COMMANDS:
        assert list(inspect.signature(command.run).parameters) == ["args"], command.__name__
        assert list(inspect.signature(command.add_parsers).parameters) == ["sub", "common", "data", "formatter"]
    parser = program.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == names


def test_internal_errors_are_one_line_unless_debug(monkeypatch, capsys):
    from core.cli import program as cli, scorers as scorers_command

    def broken(args):
        raise RuntimeError("something\nthat spans lines")

    monkeypatch.setattr(scorers_command, "run", broken)
    assert cli.main(["scorers"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: RuntimeError" in err and "--debug" in err
    assert cli.main(["scorers", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_unexpected_arguments_are_one_line_usage_errors():
    result = run_cli("score")  # a real process: argparse must not print its usage block
    assert_clean_error(result)
    assert "--help" in result.stderr


# ------------------------------------------------------------------------ the malformed-input table
def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _frame_csv(folder: Path, frame: pd.DataFrame, name="data.csv", **kwargs) -> Path:
    path = folder / name
    frame.to_csv(path, index=False, **kwargs)
    return path


def _case(name: str, folder: Path):
    """(argv after the subcommand's DATA, data path, expected 'error' or 'ok', output paths)."""
    frame = make_frame()
    out = folder / "out" / "scores.csv"
    score = ["--label", "species", "--id", "sample_id", "--folds", "3", "--scorers", FAST_SCORER]
    if name == "empty_file":
        data = _write(folder, "data.csv", "")
    elif name == "header_only":
        data = _write(folder, "data.csv", ",".join(frame.columns) + "\n")
    elif name == "missing_label_column":
        data, score = _frame_csv(folder, frame), ["--label", "nope"] + score[2:]
    elif name == "single_class":
        data = _frame_csv(folder, frame.assign(species="adelie"))
    elif name == "nan_labels":
        data = _frame_csv(folder, frame.assign(species=frame["species"].where(frame.index % 7 != 0)))
    elif name == "junk_in_numeric_column":
        junk = frame.astype({"f1": object})
        junk.loc[[3, 11], "f1"] = "n/a??"
        data = _frame_csv(folder, junk)
    elif name == "inf_values":
        data = _frame_csv(folder, frame.assign(f0=frame["f0"].where(frame.index % 9 != 0, np.inf)))
    elif name == "unsupported_extension":
        data = _write(folder, "data.xlsx", "PK\x03\x04 not really a spreadsheet")
    elif name == "missing_path":
        data = folder / "no_such_file.csv"
    elif name == "duplicate_ids":
        data = _frame_csv(folder, frame.assign(sample_id=frame["sample_id"].where(frame.index != 5, "s000")))
    elif name == "corrupt_parquet":
        data = folder / "data.parquet"
        frame.to_parquet(data, index=False)
        data.write_bytes(data.read_bytes()[: len(data.read_bytes()) // 2])
    elif name == "one_row":
        data = _frame_csv(folder, frame.head(1))
    elif name == "one_row_per_class":
        data = _frame_csv(folder, frame.groupby("species").head(1))
    elif name == "semicolon_separated":
        data = _frame_csv(folder, frame, sep=";")
    elif name == "unknown_scorer":
        data, score = _frame_csv(folder, frame), score[:-1] + ["knn_density,not_a_scorer"]
    elif name == "output_equal_to_input":
        data = _frame_csv(folder, frame)
        out = data
    elif name == "missing_output_folder":
        data = _frame_csv(folder, frame)
        out = folder / "new" / "nested" / "scores.csv"
    elif name == "unsupported_output_extension":
        data, out = _frame_csv(folder, frame), folder / "scores.xlsx"
    else:
        raise AssertionError(name)
    ok = name in ("junk_in_numeric_column", "inf_values", "semicolon_separated", "missing_output_folder")
    return ["score", data, *score, "--out", out], data, "ok" if ok else "error", out


MALFORMED = ["empty_file", "header_only", "missing_label_column", "single_class", "nan_labels",
             "junk_in_numeric_column", "inf_values", "unsupported_extension", "missing_path", "duplicate_ids",
             "corrupt_parquet", "one_row", "one_row_per_class", "semicolon_separated", "unknown_scorer",
             "output_equal_to_input", "missing_output_folder", "unsupported_output_extension"]


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_inputs_follow_the_error_contract(name, tmp_path):
    argv, data, expect, out = _case(name, tmp_path)
    before = {data: digest(data)} if data.exists() else {}
    result = run_main(*argv)
    if expect == "error":
        outputs = [] if out == data else [out]
        assert_clean_error(result, outputs, before)
        return
    assert_ok(result)
    assert out.exists()
    assert len(pd.read_csv(out)) == 90
    for path, value in before.items():
        assert digest(path) == value
    if name in ("junk_in_numeric_column", "inf_values"):
        column = "f1" if name.startswith("junk") else "f0"
        assert "workbench: warning:" in result.stderr and column in result.stderr


def test_nan_labels_can_be_dropped_on_request(tmp_path):
    argv, data, _, out = _case("nan_labels", tmp_path)
    result = run_main(*argv, "--drop-missing-labels")
    assert_ok(result)
    assert "Dropped" in result.stderr and len(pd.read_csv(out)) < 90


@pytest.mark.parametrize("keep", ["0", "1.5", "-0.2", "abc", "nan"])
def test_select_refuses_keep_outside_unit_interval(keep, data_csv, tmp_path):
    out, manifest = tmp_path / "k.csv", tmp_path / "m.json"
    result = run_main("select", data_csv, *DATA_ARGS, "--strategy", "random", "--keep", keep, "--out", out,
                     "--manifest", manifest)
    assert_clean_error(result, [out, manifest], {data_csv: digest(data_csv)})
    assert "(0, 1]" in result.stderr


@pytest.mark.parametrize("argv_tail, needle", [
    (["--strategy", "not_a_strategy", "--keep", "0.5"], "not_a_strategy"),
    (["--strategy", "ccs:el2n:gamma=3", "--keep", "0.5"], "gamma"),
    (["--strategy", f"ccs:{FAST_SCORER}", "--threshold", "0.5"], "threshold"),
])
def test_select_refuses_unknown_strategies(argv_tail, needle, data_csv, tmp_path):
    out, manifest = tmp_path / "k.csv", tmp_path / "m.json"
    result = run_main("select", data_csv, *DATA_ARGS, *argv_tail, "--out", out, "--manifest", manifest)
    assert_clean_error(result, [out, manifest], {data_csv: digest(data_csv)})
    assert needle in result.stderr


@pytest.mark.parametrize("command", ["score", "curve", "select", "apply"])
def test_every_subcommand_refuses_to_overwrite_its_input(command, data_csv, tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text("{}")
    before = {data_csv: digest(data_csv), manifest: digest(manifest)}
    argv = {
        "score": ["score", data_csv, *DATA_ARGS, "--out", data_csv],
        "curve": ["curve", data_csv, *DATA_ARGS, "--strategies", "random", "--out", data_csv],
        "select": ["select", data_csv, *DATA_ARGS, "--strategy", "random", "--keep", "0.5", "--out", data_csv,
                   "--manifest", tmp_path / "new.json"],
        "apply": ["apply", manifest, data_csv, "--out", data_csv],
    }[command]
    result = run_main(*argv)
    assert_clean_error(result, [tmp_path / "new.json"], before)
    assert "same file" in result.stderr


def test_select_refuses_the_same_file_for_both_outputs(data_csv, tmp_path):
    out = tmp_path / "both.json"
    result = run_main("select", data_csv, *DATA_ARGS, "--strategy", "random", "--keep", "0.5", "--out",
                     tmp_path / "k.csv", "--manifest", tmp_path / "k.csv")
    assert_clean_error(result, [tmp_path / "k.csv", out])


@pytest.mark.parametrize("command", ["curve", "select", "apply"])
def test_every_subcommand_reports_a_missing_path(command, tmp_path):
    missing = tmp_path / "nope.csv"
    out = tmp_path / "out.csv"
    argv = {
        "curve": ["curve", missing, "--label", "y", "--strategies", "random", "--out", out],
        "select": ["select", missing, "--label", "y", "--strategy", "random", "--keep", "0.5", "--out", out,
                   "--manifest", tmp_path / "m.json"],
        "apply": ["apply", tmp_path / "m.json", missing, "--out", out],
    }[command]
    result = run_main(*argv)
    assert_clean_error(result, [out])
    assert "does not exist" in result.stderr


def test_curve_refuses_bad_keep_list_and_unknown_strategy(data_csv, tmp_path):
    out = tmp_path / "curve.csv"
    bad_keep = run_main("curve", data_csv, *DATA_ARGS, "--strategies", "random", "--keep", "0.2,1.2", "--out", out)
    assert_clean_error(bad_keep, [out])
    unknown = run_main("curve", data_csv, *DATA_ARGS, "--strategies", "random,bogus:high", "--out", out)
    assert_clean_error(unknown, [out])
    assert "bogus" in unknown.stderr


# ------------------------------------------------------------------- smoke tests of the real process
def test_console_script_runs(tmp_path):
    script = Path(sys.executable).with_name("workbench")
    assert script.is_file(), f"the console script {script} is missing: pip install -e ."
    result = subprocess.run([str(script), "scorers", "--json"], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert_ok(result)
    assert {"el2n", "knn_density"} <= {row["name"] for row in json.loads(result.stdout)}


@pytest.mark.parametrize("name", ["missing_label_column", "output_equal_to_input"])
def test_error_contract_holds_in_a_real_process(name, tmp_path):
    argv, data, _, out = _case(name, tmp_path)
    before = {data: digest(data)}
    result = run_cli(*argv)  # exit code, stderr and files as a shell sees them
    assert_clean_error(result, [] if out == data else [out], before)
    assert list(tmp_path.rglob("*.tmp")) == [] and not (tmp_path / "out").exists()
