"""Scored partitions: the app on a stratified sample of data scored elsewhere, exports on the full data.

``workbench score DATA_FOLDER --out SCORES_FOLDER`` (one machine or a Dask cluster) writes one
scores file per data partition and ``_workbench_scores.json``. The Data page's "Scored partitions"
source reads a stratified sample of the rows with their scores (and the scorer records, so manifests
list how the scores were made) into the session as if the Scores page had computed them, so Tune
and Map work at once. The Export page then writes the Tune recipe's selection for every row with
``core.workflows.select_partitioned`` in a background job; its manifest records the sample and the
engine. Local mode only: both read and write this machine's paths.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Optional

import streamlit as st

from core import workflows
from core.foundation import ConfigError, WorkbenchError, check_cancelled
from core.selection import get_kind, parse_strategy
from workbench import jobs, state

DEFAULT_ROWS = 50_000
ENGINES = {"serial": "This process, one partition after another",
           "dask": "Dask local cluster (2 worker processes, shut down afterwards)"}
JOB = "full_selection"


# --- the Data page --------------------------------------------------------------------------------


def source_form() -> None:
    """Data and scores folders, label and id columns and the sample size, then Load."""
    with st.container(border=True):
        left, right = st.columns(2)
        state.sticky("data_parts_source", "")
        source = state.remember("data_parts_source", left.text_input(
            "Data: a folder of Parquet files, or a glob", key="data_parts_source", placeholder="/data/train/"))
        state.sticky("data_parts_scores", "")
        scores = state.remember("data_parts_scores", right.text_input(
            "Scores: the folder `workbench score` wrote", key="data_parts_scores", placeholder="/data/train_scores/"))
        a, b, c = st.columns(3)
        state.sticky("data_parts_label", "label")
        label = state.remember("data_parts_label", a.text_input("Label column", key="data_parts_label"))
        state.sticky("data_parts_id", "")
        id_column = state.remember("data_parts_id", b.text_input(
            "Id column", key="data_parts_id", help="Leave empty when the scores were computed without one "
                                                   "(ids are then row positions)."))
        state.sticky("data_parts_rows", DEFAULT_ROWS)
        rows = state.remember("data_parts_rows", c.number_input(
            "Sample size (rows)", min_value=100, max_value=1_000_000, step=10_000, key="data_parts_rows",
            help="Every class is sampled at the same rate (small classes keep at least 50 rows)."))
        st.caption("Use the label and id columns the scores were computed with. Tune and Map work on the sample; "
                   "Export can then write the selection for the full data.")
        if st.button("Load sample", type="primary", key="data_parts_load", icon=":material/download:",
                     disabled=not (source.strip() and scores.strip())):
            load_into_state(source.strip(), scores.strip(), label=label.strip(), id_column=id_column.strip() or None,
                            rows=int(rows))


def load_into_state(source: str, scores: str, *, label: str, id_column: Optional[str], rows: int) -> None:
    """Sample the partitions and put the rows and their scores into the session; a user error is shown
    as one message and nothing loaded before is lost."""
    with state.user_errors("Could not load the scored partitions: "), st.spinner("Sampling the partitions..."):
        source, scores = str(Path(source).expanduser()), str(Path(scores).expanduser())
        ds, table, sample = workflows.load_partitioned_sample(source, scores=scores, rows=rows, label=label,
                                                              id=id_column, seed=state.seed())
        if table is None or table.empty:
            raise ConfigError(f"{scores} holds no scores; give the folder `workbench score` wrote.")
        state.set_dataset(ds, f"Scored partitions: {_stem(source)}")
        state.put("partitioned", {"source": source, "scores": scores, "label": label, "id": id_column,
                                  "sample": sample, "table": table})
        state.add_scores(table)
        st.toast(f"Loaded a sample of {sample['rows']:,} of {sample['of']:,} rows", icon=":material/check_circle:")


def _stem(source: str) -> str:
    """The data's name: the folder (or file), above any wildcard of a glob."""
    path = Path(source)
    while any(ch in path.name for ch in "*?[") and path != path.parent:
        path = path.parent
    return path.stem or "data"


def sample_note(info: dict) -> str:
    """What the loaded sample is, in words."""
    sample = info["sample"]
    return (f"A stratified sample of **{sample['rows']:,} of {sample['of']:,} rows** (every class at the same "
            f"rate, seed {sample['seed']}) of `{info['source']}`, with the scores from `{info['scores']}`. Tune and "
            "Map work on this sample; exports can run on the full data (Export > Write the selection for the full "
            "data).")


# --- the Export page ------------------------------------------------------------------------------


def unsupported(strategy: str, columns: list) -> Optional[str]:
    """Why ``strategy`` cannot run on the full partitioned data whose scores files hold ``columns``, or None."""
    try:
        kind = parse_strategy(strategy, columns).kind
    except WorkbenchError as err:  # e.g. a scorer computed on the sample only
        return f"The full-data selection reads only the scores written for the partitions. {err}"
    if kind in workflows.PARTITIONED_KINDS:
        return None
    kinds = ", ".join(f"`{get_kind(k).syntax}`" for k in workflows.PARTITIONED_KINDS)
    return (f"The Tune strategy `{strategy}` ({get_kind(kind).title}) does not run on the full partitioned data yet. "
            f"Strategies that do: {kinds}. Pick one of them on Tune, or export the sample above.")


def check_paths(out: Path, manifest: Path) -> None:
    """Refuse what would overwrite or mix files: the kept rows go to a new folder, the manifest to a new file."""
    if not str(out).strip() or not str(manifest).strip():
        raise ConfigError("Give a new folder for the kept rows and a file name for the manifest.")
    if out.exists():
        raise ConfigError(f"{out} already exists; choose a new folder for the kept rows (nothing was written).")
    if manifest.exists():
        raise ConfigError(f"{manifest} already exists; choose a new manifest file (nothing was written).")
    if out == manifest or out in manifest.parents:
        raise ConfigError("Put the manifest outside the kept-rows folder.")
    if manifest.suffix.lower() != ".json":
        raise ConfigError(f"{manifest.name}: the manifest is a JSON file; end its name with .json.")


def engine_for(name: str):
    """The engine ``name`` of :data:`ENGINES`; a local cluster is always shut down afterwards."""
    return workflows.open_engine(workers=2 if name == "dask" else 0)


def target(info: dict, recipe: dict, seed: int, out: Path, manifest: Path, engine_name: str):
    """The job body: the Tune recipe on every row, written to ``out`` with its manifest."""

    def run(job: jobs.Job) -> dict:
        check_cancelled(job.cancel_event)
        job.progress(0, 1, f"selecting on every partition ({ENGINES[engine_name].split(',')[0].lower()})")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            manifest.parent.mkdir(parents=True, exist_ok=True)
            with engine_for(engine_name) as engine:
                document = workflows.select_partitioned(
                    info["source"], info["scores"], out, manifest, strategy=recipe["strategy"],
                    keep=recipe.get("keep"), threshold=recipe.get("threshold"), seed=seed, label=info["label"],
                    id=info["id"], engine=engine, sample=info["sample"], progress=job.progress,
                    cancel=job.cancel_event)
        except OSError as err:
            raise ConfigError(f"Cannot write {out} or {manifest} ({err.strerror or err}); pick a folder you can "
                              "write to.") from err
        job.progress(1, 1, "written")
        return {"out": str(out), "manifest": str(manifest), "n_kept": document["n_kept"],
                "n_input": document["n_input"], "engine": document["engine"]}

    return run


def _finish(job: jobs.Job) -> None:
    ds = state.dataset()
    if job.status == "done" and ds is not None and job.context.get("fingerprint") == ds.fingerprint:
        state.put("full_selection", job.result)


def full_export_panel() -> None:
    """Write the Tune recipe's selection for every row of the partitioned data (a background job)."""
    info, recipe = state.get("partitioned"), state.recipe_now()
    with st.expander("Write the selection for the full data", icon=":material/dataset:", expanded=True):
        st.markdown(f"The Tune recipe `{recipe['strategy']}` on all **{info['sample']['of']:,} rows** of "
                    f"`{info['source']}`, partition by partition: the kept rows keep every original column, one "
                    "Parquet file per input partition, and the manifest records the sample the recipe was tuned on "
                    "and the engine. `workbench apply` reads the same manifest.")
        problem = unsupported(recipe["strategy"], list(info["table"].columns))
        if problem:
            st.warning(problem, icon=":material/block:")
            return
        if any(state.forced_sets()):
            st.caption("Map edits apply to the sample only; the full-data selection follows the recipe alone.")
        stem = _stem(info["source"])
        a, b = st.columns(2)
        state.sticky("export_full_out", str(Path.cwd() / "exports" / f"{stem}_kept"))
        out_text = state.remember("export_full_out", a.text_input("New folder for the kept rows", key="export_full_out"))
        state.sticky("export_full_manifest", str(Path.cwd() / "exports" / f"{stem}_kept.json"))
        manifest_text = state.remember("export_full_manifest", b.text_input("Manifest file (JSON)",
                                                                            key="export_full_manifest"))
        offered = [name for name in ENGINES if name != "dask" or find_spec("distributed") is not None]
        state.sticky("export_full_engine", "serial", offered)
        engine_name = state.remember("export_full_engine", st.radio("Engine", offered, format_func=ENGINES.get,
                                                                    key="export_full_engine", horizontal=True))
        if st.button("Write the selection for the full data", key="export_full_write", icon=":material/save:",
                     type="primary", disabled=jobs.running(JOB)):
            out, manifest = Path(out_text.strip()).expanduser(), Path(manifest_text.strip()).expanduser()
            with state.user_errors("Could not write the full-data selection: "):
                check_paths(out, manifest)
                jobs.start(JOB, target(info, recipe, state.seed(), out, manifest, engine_name),
                           label="Full-data selection", context={"fingerprint": state.dataset().fingerprint},
                           on_done=_finish, clicked=True)  # reference work gives way to it
        jobs.panel(JOB)
        done = state.get("full_selection")
        if done is not None and not jobs.running(JOB):
            st.success(f"Wrote {done['n_kept']:,} of {done['n_input']:,} rows to `{done['out']}` and the manifest to "
                       f"`{done['manifest']}` (engine: {done['engine'].get('engine')}).", icon=":material/check_circle:")
