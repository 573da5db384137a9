"""Export: download (or, in local mode, write) the kept rows and the manifest; a summary for stakeholders."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import streamlit as st

import core
from workbench import (
    cards, charts, estimates, exact_check, partitioned, resources, settings, state, summary, tracking_panel, tuning,
)

ds = state.require_dataset()
st.title("Export")
st.caption("The kept rows keep every original column in the original order. The manifest records the recipe, "
           "the kept ids and the estimate, so `workbench apply` can re-apply it exactly.")

sel, problem = tuning.safe_selection(ds)
if problem:
    st.warning(f"The Tune recipe does not apply ({problem}); exporting a random selection instead.")
evaluator = resources.evaluator(ds, state.folds(), state.seed())
table, names = state.scores(), state.score_columns()
block = estimates.comparison(ds, sel, table, evaluator)
pruned, full, rand = (SimpleNamespace(**block[part]) for part in ("selection", "full", "random"))
found = cards.verdict(block, is_random=sel.resolved_strategy == "random")
exact = exact_check.latest(ds, sel)

cards.comparison_cards(st.container(), ds, sel, pruned, full, rand)
cards.show_verdict(found, exporting=True)
st.caption(f"Strategy `{sel.resolved_strategy}` · seed {sel.seed} · {block['summary']}")
if block.get("leak_free") is False:
    st.caption("For now the estimate is optimistic (the scores that chose the rows saw the held-out labels); the "
               "leak-free one replaces it, here and in the files, as soon as it is ready.")

with st.container(border=True):
    a, b = st.columns([1, 2])
    state.sticky("export_format", "CSV", ["CSV", "Parquet"])
    fmt = state.remember("export_format", a.radio("Format", ["CSV", "Parquet"], key="export_format", horizontal=True))
    state.sticky("export_scores", False)
    include_scores = state.remember("export_scores", b.checkbox(
        "Append score columns", key="export_scores", disabled=not names,
        help="Adds every computed score (and flag) column after the original columns."))
stem, suffix = (Path(ds.source).stem if ds.source else "data"), (".csv" if fmt == "CSV" else ".parquet")
cut = (state.get("column_cut") or {}).get("block")  # a Columns-page cut: recorded, and its columns left out


def _files() -> dict:
    """Kept rows, manifest and summary as bytes: exactly what the buttons serve and a folder gets."""
    curve = next(iter(state.get("curves").values()), None)
    return {"rows": core.rows_bytes(ds, sel, fmt.lower(), scores=table, include_scores=include_scores,
                                    drop_columns=cut["dropped"] if cut else ()),
            "manifest": core.manifest_bytes(ds, sel, block, table, columns=cut),
            "summary": summary.build_html(ds, sel, pruned, full, rand, evaluator_description=evaluator.describe(),
                                          origin=state.get("origin") or "Data", curve=curve, score_names=names,
                                          verdict=found, exact=exact).encode()}


files = None
with state.user_errors("Could not prepare the export: "):
    files = state.memo("export_files", (tuning.identity(sel), state.get("table_version"), block.get("leak_free"),
                                        fmt, include_scores, len(state.get("curves")), len(state.get("exact_checks"))),
                       _files)
    d = st.columns(3)
    d[0].download_button(f"Kept rows ({fmt})", files["rows"], file_name=f"{stem}_kept{suffix}",
                         mime="text/csv" if fmt == "CSV" else "application/octet-stream", key="export_rows",
                         icon=":material/table:", type="primary", width="stretch")
    d[1].download_button("Manifest (JSON)", files["manifest"], file_name=f"{stem}_manifest.json",
                         mime="application/json", key="export_manifest", icon=":material/description:",
                         width="stretch")
    d[2].download_button("Stakeholder summary (HTML)", files["summary"], file_name=f"{stem}_summary.html",
                         mime="text/html", key="export_summary", icon=":material/summarize:", width="stretch")

if state.get("partitioned") is not None:  # a sample of scored partitions: the files above hold the sample's rows
    st.caption(f"These files hold the kept rows of the sample ({ds.n_samples:,} of "
               f"{state.get('partitioned')['sample']['of']:,} rows).")
    if settings.local_files_allowed():
        partitioned.full_export_panel()

with st.expander("Summary preview", icon=":material/summarize:", expanded=True):
    left, right = st.columns(2)
    left.plotly_chart(charts.accuracy_comparison(pruned, full, rand), key="export_accuracy")
    right.plotly_chart(charts.kept_per_class(ds.classes, *charts.kept_and_dropped(ds, sel.mask)),
                       key="export_per_class")
    st.caption("The HTML summary holds these charts, the key numbers and the verdict, the exact-model check and "
               "the pruning curve when they were run on the Tune page, and how the estimate was made. It opens "
               "offline in any browser.")

if settings.local_files_allowed() and files is not None:  # a served app never writes the server's folders
    with st.expander("Write to a folder on this machine", icon=":material/folder:"):
        folder = st.text_input("Folder", value=str(Path.cwd() / "exports"), key="export_folder")
        if st.button("Write files", key="export_write", icon=":material/save:"):
            out = Path(folder).expanduser()
            with state.user_errors("Could not write the files: "):
                core.export(ds, sel, out / f"{stem}_kept{suffix}", manifest=out / f"{stem}_manifest.json",
                            scores=table, include_scores=include_scores, estimate=block, columns=cut)
                try:
                    (out / f"{stem}_summary.html").write_bytes(files["summary"])
                    st.success(f"Wrote {stem}_kept{suffix}, {stem}_manifest.json and {stem}_summary.html to {out}.")
                except OSError as err:
                    st.error(f"Could not write to {out} ({err.strerror}). Pick a folder you can write to.")

if files is not None:  # off unless the user asks: a store field and a button
    tracking_panel.render(ds, sel, estimate=block, scores=table, files=files,
                          curve=next(iter(state.get("curves").values()), None))

with st.expander("Manifest preview"):
    if files is not None:
        manifest = json.loads(files["manifest"])
        preview = dict({k: v for k, v in manifest.items() if k != "kept_ids"},
                       kept_ids=f"[{len(manifest.get('kept_ids', []))} ids]")
        st.json(preview, expanded=1)
