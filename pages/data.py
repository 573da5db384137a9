"""Data: pick a bundled sample, upload a file or (local mode) read a path; preview and class balance."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.foundation import rng
from workbench import cards, charts, data_forms, loaders, media, partitioned, resources, settings, state

st.title("Data")
st.caption("Load a labelled data set. Nothing is modified: exports write the original rows you load here.")

# a served app never reads the server's files by path (settings.local_files_allowed)
SOURCES = ["Bundled sample", "Upload a file"] + (["Local path", "Scored partitions"] if settings.local_files_allowed()
                                                  else [])
state.sticky("data_source", SOURCES[0], SOURCES)
source = state.remember("data_source", st.segmented_control("Source", SOURCES, key="data_source",
                                                             label_visibility="collapsed")) or SOURCES[0]

if source == "Bundled sample":
    samples = {s["name"]: s for s in resources.list_samples()}
    current = (state.get("origin") or "").removeprefix("Sample: ")
    state.sticky("data_sample", current if current in samples else next(iter(samples)), list(samples))
    with st.container(border=True):
        name = state.remember("data_sample", st.selectbox("Sample", list(samples), key="data_sample",
                                                          format_func=lambda n: samples[n]["title"]))
        st.caption(samples[name]["description"] + f"  \nLicence: {samples[name].get('licence', 'see README')}")
        with st.expander("Featurizer options"):
            sample_options = data_forms.featurizer_options("data_sample", samples[name]["kind"])
        if st.button("Load sample", type="primary", key="data_load_sample", icon=":material/download:"):
            data_forms.load_into_state(lambda: loaders.load_sample(name, sample_options), f"Sample: {name}")
elif source == "Upload a file":
    uploaded = st.file_uploader(f"CSV, Parquet, NPZ (X, y) or a .zip of an image folder (one subfolder per "
                                f"class), up to {loaders.upload_limit_mb():,} MB", type=loaders.UPLOAD_TYPES,
                                key="data_upload")
    if uploaded is not None:
        with state.user_errors():
            data_forms.column_form(loaders.save_upload(uploaded), "data_up", f"Upload: {uploaded.name}",
                                   uploaded.name)
elif source == "Local path":
    path_text = st.text_input("Path to a file or an image folder on this machine", key="data_path",
                              placeholder="/data/train.csv").strip()
    if path_text:
        path = Path(path_text).expanduser()
        data_forms.column_form(path, "data_path", f"Path: {path.name}", path.name)
elif source == "Scored partitions":  # what `workbench score DATA_FOLDER --out SCORES_FOLDER` wrote
    partitioned.source_form()

ds = state.dataset()
if ds is None:
    st.info("No data loaded yet." if state.get("preloaded") else "Opening the bundled sample...",
            icon=":material/database:")
    state.end_page()

st.divider()
st.subheader(f"Loaded — {cards.literal(state.get('origin') or 'data')}")
m = st.columns(5)
m[0].metric("Rows", f"{ds.n_samples:,}", border=True)
m[1].metric("Features", f"{ds.n_features:,}", border=True)
m[2].metric("Classes", ds.n_classes, border=True)
m[3].metric("Kind", ds.kind, border=True)
m[4].metric("Fingerprint", ds.fingerprint[:10], help=f"{ds.fingerprint}: the key of every cached result",
            border=True)
if state.get("partitioned") is not None:
    st.info(partitioned.sample_note(state.get("partitioned")), icon=":material/dataset:")
if notes := data_forms.loading_notes(ds):
    st.warning("**What loading did**\n\n" + "\n".join(f"- {w}" for w in notes), icon=":material/warning:")

left, right = st.columns([3, 2])
with left:
    if media.has_images(ds):
        st.markdown("**Examples**")
        picks = rng(0, "data-page-examples").choice(ds.n_samples, size=min(16, ds.n_samples), replace=False)
        cols = st.columns(8)
        for i, p in enumerate(picks):
            cols[i % 8].image(media.thumbnail_png(ds.images[p], 64), width=64)
            cols[i % 8].caption(media.caption(ds, p))
    st.markdown("**Preview** (first 500 rows, original columns)")
    st.dataframe(ds.frame.head(500), height=360, hide_index=True)
with right:
    st.plotly_chart(charts.class_balance(ds.class_counts()), key="data_balance")
    with st.expander("Features used"):
        st.caption(f"{ds.n_features} features from the {ds.settings.get('featurizer', ds.kind)} featurizer")
        st.write(", ".join(map(str, ds.feature_names[:60])) + (" ..." if ds.n_features > 60 else ""))

st.page_link(state.page("scores"), label="Next: score the rows", icon=":material/arrow_forward:")
