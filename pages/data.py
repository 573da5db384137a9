"""Data: pick a bundled sample, upload a file or read a local path; preview and class balance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from workbench import charts, loaders, media, resources, state

st.title("Data")
st.caption("Load a labelled data set. Nothing is modified: exports write the original rows you load here.")

SOURCES = ["Bundled sample", "Upload a file", "Local path"]
state.sticky("data_source", SOURCES[0], SOURCES)
source = state.remember("data_source", st.segmented_control("Source", SOURCES, key="data_source",
                                                             label_visibility="collapsed"))


def _featurizer_options(prefix: str, kind_hint: str = "auto") -> dict:
    """Featurizer choices shared by every source."""
    options = {}
    a, b, c = st.columns(3)
    featurizer = a.selectbox("Featurizer", loaders.FEATURIZERS, key=f"{prefix}_featurizer",
                             help="auto: images for image data, sentence embeddings for one free-text column, "
                                  "embedding columns as they are, otherwise impute + scale + one-hot.")
    if featurizer != "auto":
        options["featurizer"] = featurizer
    text_method = b.selectbox("Text embedding", loaders.TEXT_METHODS, key=f"{prefix}_text_method",
                              help="minilm: offline sentence embeddings; tfidf: TF-IDF + SVD.")
    if text_method != "auto":
        options["text_method"] = text_method
    max_dim = c.number_input("Reduce to at most N features (0 = keep all)", min_value=0, max_value=4096, value=0,
                             step=16, key=f"{prefix}_max_dim", help="PCA for wide data; speeds up scoring.")
    if max_dim:
        options["max_dim"] = int(max_dim)
    if kind_hint == "image":
        options["image_size"] = int(st.slider("Image feature size (pixels per side)", 8, 32, 16,
                                              key=f"{prefix}_image_size"))
    return options


def _load_into_state(loader, origin: str) -> None:
    with state.user_errors("Could not load the data: "), st.spinner("Loading and featurizing..."):
        ds = loader()
        state.set_dataset(ds, origin)
        st.toast(f"Loaded {ds.n_samples:,} rows", icon=":material/check_circle:")


def _column_form(path: Path, prefix: str, origin: str) -> None:
    """Label, id, feature and featurizer choices for a file, then a Load button."""
    with state.user_errors():
        raw = loaders.raw_preview(path)
        frame = raw.frame
        columns = list(frame.columns)
        with st.container(border=True):
            st.markdown(f"**{path.name}** · {len(frame):,} rows · {len(columns):,} columns")
            left, right = st.columns(2)
            label_default = loaders.guess_label(frame, raw.label)
            label = left.selectbox("Label column", columns, index=columns.index(label_default), key=f"{prefix}_label")
            id_choices = ["(row number)"] + [c for c in columns if c != label]
            id_default = loaders.guess_id(frame, raw.id)
            id_column = right.selectbox("Id column", id_choices,
                                        index=id_choices.index(id_default) if id_default in id_choices else 0,
                                        key=f"{prefix}_id")
            id_column = None if id_column == "(row number)" else id_column
            candidates = [c for c in columns if c not in (label, id_column)]
            default_features = [c for c in (raw.features or candidates) if c in candidates]
            if raw.images is None:
                features = st.multiselect("Feature columns", candidates, default=default_features,
                                          key=f"{prefix}_features",
                                          help="Leave out ground-truth or leakage columns.")
                text_choices = ["(auto-detect)", "(none)"] + candidates
                text = st.selectbox("Free-text column", text_choices, key=f"{prefix}_text")
            else:
                features, text = None, "(none)"
                height, width = raw.images.shape[1:3]
                st.caption(f"Image data: {len(raw.images):,} images of {height}×{width} pixels.")
            options = {"label": label, "id": id_column}
            if features is not None and features != candidates:
                options["features"] = features
            if text not in ("(auto-detect)", "(none)"):
                options["text"] = text
            options.update(_featurizer_options(prefix, "image" if raw.images is not None else "auto"))
            options["drop_missing_labels"] = st.checkbox("Drop rows with a missing label", key=f"{prefix}_drop")
            st.dataframe(frame.head(20), height=240, hide_index=True)
            if st.button("Load data", type="primary", key=f"{prefix}_load", icon=":material/upload:"):
                _load_into_state(lambda: loaders.load(path, options), origin)


if source == "Bundled sample":
    samples = resources.list_samples()
    if not samples:
        st.warning("No bundled samples are available in this installation.")
    else:
        names = [s["name"] for s in samples]
        info = {s["name"]: s for s in samples}
        current = (st.session_state.get("ds_origin") or "").removeprefix("Sample: ")
        state.sticky("data_sample", current if current in names else names[0], names)
        with st.container(border=True):
            name = st.selectbox("Sample", names, key="data_sample", format_func=lambda n: info[n]["title"])
            state.remember("data_sample", name)
            st.caption(info[name]["description"] + f"  \nLicence: {info[name].get('licence', 'see README')}")
            with st.expander("Featurizer options"):
                sample_options = _featurizer_options("data_sample", info[name]["kind"])
            if st.button("Load sample", type="primary", key="data_load_sample", icon=":material/download:"):
                _load_into_state(lambda: loaders.load_sample(name, sample_options), f"Sample: {name}")
elif source == "Upload a file":
    uploaded = st.file_uploader("CSV, Parquet, NPZ (X, y) or a .zip of an image folder (one subfolder per class)",
                                type=loaders.UPLOAD_TYPES, key="data_upload")
    if uploaded is not None:
        with state.user_errors():
            _column_form(loaders.save_upload(uploaded), "data_up", f"Upload: {uploaded.name}")
elif source == "Local path":
    path_text = st.text_input("Path to a file or an image folder on this machine", key="data_path",
                              placeholder="/data/train.csv")
    if path_text.strip():
        _column_form(Path(path_text.strip()).expanduser(), "data_path", f"Path: {Path(path_text.strip()).name}")

ds = state.dataset()
if ds is None:
    st.info("No data loaded yet.")
    st.stop()

st.divider()
st.subheader(f"Loaded — {st.session_state.get('ds_origin') or 'data'}")
m = st.columns(5)
m[0].metric("Rows", f"{ds.n_samples:,}", border=True)
m[1].metric("Features", f"{ds.n_features:,}", border=True)
m[2].metric("Classes", ds.n_classes, border=True)
m[3].metric("Kind", ds.kind, border=True)
m[4].metric("Fingerprint", ds.fingerprint[:10], help=f"{ds.fingerprint}: the key of every cached result",
            border=True)
if ds.warnings:
    st.warning("**What loading did**\n\n" + "\n".join(f"- {w}" for w in ds.warnings), icon=":material/warning:")

left, right = st.columns([3, 2])
with left:
    if media.has_images(ds):
        st.markdown("**Examples**")
        rng = np.random.default_rng(0)
        picks = rng.choice(ds.n_samples, size=min(16, ds.n_samples), replace=False)
        cols = st.columns(8)
        for i, p in enumerate(picks):
            cols[i % 8].image(media.thumbnail_png(ds.images[p], 64), caption=str(ds.labels[p]), width=64)
    st.markdown("**Preview** (first 500 rows, original columns)")
    st.dataframe(ds.frame.head(500), height=360, hide_index=True)
with right:
    st.plotly_chart(charts.class_balance(ds.class_counts()), key="data_balance")
    with st.expander("Features used"):
        st.caption(f"{ds.n_features} features from the {ds.settings.get('featurizer', ds.kind)} featurizer")
        st.write(", ".join(map(str, ds.feature_names[:60])) + (" ..." if ds.n_features > 60 else ""))

st.page_link(state.page("scores"), label="Next: score the rows", icon=":material/arrow_forward:")
