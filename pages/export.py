"""Export: download (or, in local mode, write) the kept rows and the manifest; a summary for stakeholders."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import streamlit as st

import core
from workbench import (
    cards, charts, estimates, exact_check, partitioned, resources, settings, state, summary, target_form, tracking_panel,
    tuning,
)
from workbench.exports import ExportFiles, LazyBytes, formula_safe_choice

ds = state.require_dataset()
st.title("Export")
st.caption("The kept rows keep every original column in the original order. The manifest records the recipe, "
           "the kept ids and the estimate, so `workbench apply` can re-apply it exactly.")

sel, problem = tuning.safe_selection(ds)
if problem:
    st.warning(f"The Tune recipe does not apply ({problem}); exporting a random selection instead.")
base = resources.evaluator(ds, state.folds(), state.seed())
evaluator = target_form.live_evaluator(ds, base)
table, names = state.scores(), state.score_columns()
found = estimates.reading(ds, sel, table, evaluator)  # the one route: Tune's figure for the same recipe, at once
block = estimates.manifest_block(ds, sel, table, evaluator, found)  # None until the figures are final
block = target_form.with_target(block, ds, sel)  # the user's own target model, when one is named on Tune
pruned, full, rand = found.pruned, found.full, found.random
verdict = target_form.reading_verdict(ds, sel, base, found, is_random=sel.resolved_strategy == "random")
exact = exact_check.latest(ds, sel)

cards.comparison_cards(st.container(), ds, sel, pruned, full, rand, leak_free=found.leak_free,
                       random_state=found.random_state)
cards.show_verdict(verdict, exporting=True)
if cards.detail_line(found):
    st.caption(cards.detail_line(found))
line = cards.status_line(found)
if block is not None:
    st.caption(f"Strategy `{sel.resolved_strategy}` · seed {sel.seed} · {block['summary']}")
else:
    st.caption(f":material/hourglass_top: {line or 'The estimate is being completed.'} The kept rows can be "
               "downloaded now; the manifest and the summary record the estimate, so they wait for the final figures "
               "(this page updates by itself).")

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
dropped = tuple(cut["dropped"]) if cut else ()
formula_safe = fmt == "CSV" and formula_safe_choice(st.container(), ds, sel, tuning.identity(sel), table,
                                                     include_scores, dropped)


def _files() -> ExportFiles:
    """Kept rows, manifest and summary as bytes: exactly what the buttons serve and a folder gets.

    The kept rows are made once per selection and format (:mod:`workbench.exports`): a CSV when the
    download is clicked, a Parquet file now (fast, and a column it cannot hold is said here). The
    manifest and the summary record the estimate: they are made only from final figures."""
    curve = next(iter(state.get("curves").values()), None)
    rows = state.memo("export_rows", (tuning.identity(sel), state.get("table_version"), fmt, include_scores, dropped,
                                      formula_safe),
                      lambda: LazyBytes(partial(core.rows_bytes, ds, sel, fmt.lower(), scores=table,
                                                include_scores=include_scores, drop_columns=dropped,
                                                formula_safe=formula_safe)))
    if fmt == "Parquet":
        rows()
    files = ExportFiles(rows)
    if block is not None:
        files["manifest"] = core.manifest_bytes(ds, sel, block, table, columns=cut)
        files["summary"] = summary.build_html(ds, sel, pruned, full, rand, evaluator_description=evaluator.describe(),
                                              origin=state.get("origin") or "Data", curve=curve, score_names=names,
                                              verdict=verdict, exact=exact).encode()
    return files


files = None
with state.user_errors("Could not prepare the export: "):
    files = state.memo("export_files", (tuning.identity(sel), state.get("table_version"), block is not None,
                                        fmt, include_scores, formula_safe, len(state.get("curves")), len(state.get("exact_checks"))),
                       _files)
    d = st.columns(3)
    d[0].download_button(f"Kept rows ({fmt})", files.rows.for_download(), file_name=f"{stem}_kept{suffix}",
                         mime="text/csv" if fmt == "CSV" else "application/octet-stream", key="export_rows",
                         icon=":material/table:", type="primary", width="stretch")
    waiting = "waits for the final estimate"
    d[1].download_button("Manifest (JSON)" if block is not None else f"Manifest ({waiting})",
                         files.get("manifest", b""), file_name=f"{stem}_manifest.json", mime="application/json",
                         key="export_manifest", icon=":material/description:", width="stretch",
                         disabled=block is None)
    d[2].download_button("Stakeholder summary (HTML)" if block is not None else f"Summary ({waiting})",
                         files.get("summary", b""), file_name=f"{stem}_summary.html", mime="text/html",
                         key="export_summary", icon=":material/summarize:", width="stretch", disabled=block is None)

if state.get("partitioned") is not None:  # a sample of scored partitions: the files above hold the sample's rows
    st.caption(f"These files hold the kept rows of the sample ({ds.n_samples:,} of "
               f"{state.get('partitioned')['sample']['of']:,} rows).")
    if settings.local_files_allowed():
        partitioned.full_export_panel()

with st.expander("Summary preview", icon=":material/summarize:", expanded=True):
    left, right = st.columns(2)
    left.plotly_chart(charts.accuracy_comparison(pruned, full, rand, **cards.chart_labels(found)),
                      key="export_accuracy")
    right.plotly_chart(charts.kept_per_class(ds.classes, *charts.kept_and_dropped(ds, sel.mask)),
                       key="export_per_class")
    st.caption("The HTML summary holds these charts, the key numbers and the verdict, the exact-model check and "
               "the pruning curve when they were run on the Tune page, and how the estimate was made. It opens "
               "offline in any browser.")

if settings.local_files_allowed() and files is not None and block is not None:  # never the server's folders when served
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

if files is not None and block is not None:  # off unless the user asks: a store field and a button
    tracking_panel.render(ds, sel, estimate=block, scores=table, files=files,
                          curve=next(iter(state.get("curves").values()), None))

with st.expander("Manifest preview"):
    if files is not None and "manifest" not in files:
        st.caption("The manifest records the estimate: it is made when the final figures are ready.")
    elif files is not None:
        manifest = json.loads(files["manifest"])
        preview = dict({k: v for k, v in manifest.items() if k != "kept_ids"},
                       kept_ids=f"[{len(manifest.get('kept_ids', []))} ids]")
        st.json(preview, expanded=1)
