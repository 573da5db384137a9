"""Export: download or write the kept rows and the manifest; a one-page summary for stakeholders."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st

from core.outputs.manifest import export as export_rows
from core.outputs.manifest import build_manifest
from workbench import charts, resources, state, summary, tuning

ds = state.require_dataset()
seed, folds = int(st.session_state["seed"]), int(st.session_state["folds"])
st.title("Export")
st.caption("The kept rows keep every original column in the original order. The manifest records the recipe, "
           "the kept ids and the estimate, so `workbench apply` can re-apply it exactly.")

sel, problem = tuning.safe_selection(ds)
if problem:
    st.warning(f"The Tune recipe does not apply ({problem}); exporting a random selection instead.")
evaluator = resources.evaluator(ds, folds, seed)
comparison = evaluator.compare(sel.mask)
pruned, full, rand = evaluator.estimate(sel.mask), evaluator.full(), evaluator.random(sel.n_kept, repeats=5)
names = state.score_columns()
scores_meta = [{"name": n, "seed": seed, "folds": folds} for n in names]

m = st.columns(4)
m[0].metric("Rows kept", f"{sel.n_kept:,}", f"{sel.n_kept / ds.n_samples:.0%} of {ds.n_samples:,}",
            delta_color="off", delta_arrow="off", border=True)
m[1].metric(f"Pruned accuracy · ±{100 * pruned.std:.1f}", f"{pruned.accuracy:.1%}", sel.resolved_strategy[:40],
            delta_color="off", delta_arrow="off", border=True)
m[2].metric("vs full data", f"{100 * (pruned.accuracy - full.accuracy):+.1f} pts",
            f"full {full.accuracy:.1%} ± {100 * full.std:.1f}", delta_color="off", delta_arrow="off", border=True)
m[3].metric("vs random, same size", f"{100 * (pruned.accuracy - rand.accuracy):+.1f} pts",
            f"random {rand.accuracy:.1%} ± {100 * rand.std:.1f}", delta_color="off", delta_arrow="off", border=True)
st.caption(f"Strategy `{sel.resolved_strategy}` · seed {sel.seed} · {comparison['summary']}")

with st.container(border=True):
    a, b = st.columns([1, 2])
    state.sticky("export_format", "CSV", ["CSV", "Parquet"])
    fmt = state.remember("export_format", a.radio("Format", ["CSV", "Parquet"], key="export_format", horizontal=True))
    state.sticky("export_scores", False)
    include_scores = state.remember("export_scores", b.checkbox(
        "Append score columns", key="export_scores", disabled=not names,
        help="Adds every computed score (and flag) column after the original columns."))
    stem = Path(ds.source).stem if ds.source else "data"
    suffix = ".csv" if fmt == "CSV" else ".parquet"


def _files() -> dict:
    """Kept rows, manifest and summary as bytes, built once per selection and options."""
    key = (ds.fingerprint, sel.strategy, sel.keep, sel.threshold, sel.n_kept, tuple(map(str, sel.kept_ids[:50])),
           fmt, include_scores, st.session_state.get("scores_version", 0), len(st.session_state.get("forced", [])))
    memo = st.session_state.get("_export_files")
    if memo and memo[0] == key:
        return memo[1]
    with tempfile.TemporaryDirectory() as tmp:
        rows_path, manifest_path = Path(tmp) / f"kept{suffix}", Path(tmp) / "manifest.json"
        export_rows(ds, sel, rows_path, manifest=manifest_path, scores=state.scores(), include_scores=include_scores,
                    estimate=comparison, scores_meta=scores_meta)
        files = {"rows": rows_path.read_bytes(), "manifest": manifest_path.read_bytes()}
    curve = next(iter(st.session_state.get("curves", {}).values()), None)
    files["summary"] = summary.build_html(ds, sel, pruned, full, rand, evaluator_description=evaluator.describe(),
                                          origin=st.session_state.get("ds_origin") or "Data", curve=curve,
                                          score_names=names).encode()
    st.session_state["_export_files"] = (key, files)
    return files


files = None
with state.user_errors("Could not prepare the export: "):
    files = _files()
    d = st.columns(3)
    d[0].download_button(f"Kept rows ({fmt})", files["rows"], file_name=f"{stem}_kept{suffix}",
                         mime="text/csv" if fmt == "CSV" else "application/octet-stream", key="export_rows",
                         icon=":material/table:", type="primary", width="stretch")
    d[1].download_button("Manifest (JSON)", files["manifest"], file_name=f"{stem}_manifest.json",
                         mime="application/json", key="export_manifest", icon=":material/description:",
                         width="stretch")
    d[2].download_button("Stakeholder summary (HTML)", files["summary"], file_name=f"{stem}_summary.html",
                         mime="text/html", key="export_summary", icon=":material/summarize:", width="stretch")

with st.expander("Summary preview", icon=":material/summarize:", expanded=True):
    left, right = st.columns(2)
    left.plotly_chart(charts.accuracy_comparison(pruned, full, rand), key="export_accuracy")
    kept = np.bincount(ds.y[sel.mask], minlength=ds.n_classes)
    right.plotly_chart(charts.kept_per_class(ds.classes, kept, np.bincount(ds.y, minlength=ds.n_classes) - kept),
                       key="export_per_class")
    st.caption("The HTML summary holds these charts, the key numbers, the pruning curve when one was computed "
               "on the Tune page, and how the estimate was made. It opens offline in any browser.")

with st.expander("Write to a folder on this machine", icon=":material/folder:"):
    folder = st.text_input("Folder", value=str(Path.cwd() / "exports"), key="export_folder")
    if st.button("Write files", key="export_write", icon=":material/save:"):
        with state.user_errors("Could not write the files: "):
            out = Path(folder).expanduser()
            rows_path, manifest_path = out / f"{stem}_kept{suffix}", out / f"{stem}_manifest.json"
            export_rows(ds, sel, rows_path, manifest=manifest_path, scores=state.scores(),
                        include_scores=include_scores, estimate=comparison, scores_meta=scores_meta)
            try:
                if files is not None:
                    (out / f"{stem}_summary.html").write_bytes(files["summary"])
                st.success(f"Wrote {rows_path.name}, {manifest_path.name} and {stem}_summary.html to {out}.")
            except OSError as err:
                st.error(f"Could not write to {out} ({err.strerror}). Pick a folder you can write to.")

with st.expander("Manifest preview"):
    manifest = json.loads(files["manifest"]) if files is not None else build_manifest(ds, sel, comparison)
    preview = {k: v for k, v in manifest.items() if k != "kept_ids"}
    preview["kept_ids"] = f"[{len(manifest.get('kept_ids', []))} ids]"
    st.json(preview, expanded=1)
