"""The Data page's forms: featurizer options and the column choices for a file, then Load."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.foundation import for_app
from workbench import cards, loaders, state


def featurizer_options(prefix: str, kind_hint: str = "auto") -> dict:
    """Featurizer choices shared by every source; only non-default choices are returned."""
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
    reduction = c.selectbox("Wide data (PCA)", ["auto", "keep all", "32", "64", "128", "256"], key=f"{prefix}_max_dim",
                            help="How many summary features (principal components) wide data is squeezed into. "
                                 "auto: 128 when there are more than 200 feature columns, else every feature; "
                                 "keep all: no squeezing (slower scoring). How much of the variation they keep is "
                                 "shown after loading. Exports keep every original column.")
    if reduction != "auto":
        options["max_dim"] = None if reduction == "keep all" else int(reduction)
    if kind_hint == "image":
        options["image_size"] = int(st.slider("Image feature size (pixels per side)", 8, 32, 16,
                                              key=f"{prefix}_image_size"))
    return options


def loading_notes(ds) -> list:
    """What loading did, in plain words: the loader's notes, with the PCA note told for this app
    (the pictures' downscaling included; no argument names of the Python API or the CLI)."""
    settings = ds.settings or {}
    notes = [for_app(w) for w in ds.warnings if not (settings.get("pca_dim") and str(w).startswith("Reduced "))]
    if not settings.get("pca_dim"):
        return notes
    n_in, n_out = settings.get("pca_input_dim"), settings["pca_dim"]
    before = f"the {n_in:,} feature columns"
    if settings.get("featurizer") == "image" and getattr(ds, "images", None) is not None \
            and max(ds.images.shape[1:3]) > settings.get("image_size", 16):
        h, w = ds.images.shape[1:3]
        side = settings.get("image_size", 16)
        before = (f"the {h}×{w}-pixel pictures ({h * w:,} pixel values each) were first shrunk to {side}×{side} "
                  f"pixels ({n_in:,} values), and those")
    kept = settings.get("pca_explained_variance")
    share = f", keeping {kept:.1%} of their variation" if kept is not None else ""
    notes.append(f"To keep scoring fast, {before} were summarised into {n_out} features with PCA{share}. Scores, "
                 "estimates and maps use these; exports keep every original column. To use every feature, load "
                 "again with “keep all” under “Wide data (PCA)”.")
    return notes


def load_into_state(loader, origin: str) -> None:
    """Run ``loader()`` and make its data set current; a user error is shown, nothing is lost."""
    with state.user_errors("Could not load the data: "), st.spinner("Loading and featurizing..."):
        ds = loader()
        state.set_dataset(ds, origin)
        st.toast(f"Loaded {ds.n_samples:,} rows", icon=":material/check_circle:")


def _columns(frame, raw, prefix: str) -> dict:
    columns = list(frame.columns)
    left, right = st.columns(2)
    label_default = loaders.guess_label(frame, raw.label)
    label = left.selectbox("Label column", columns, index=columns.index(label_default), key=f"{prefix}_label")
    id_choices = ["(row number)"] + [c for c in columns if c != label]
    id_default = loaders.guess_id(frame, raw.id)
    id_column = right.selectbox("Id column", id_choices, key=f"{prefix}_id",
                                index=id_choices.index(id_default) if id_default in id_choices else 0)
    id_column = None if id_column == "(row number)" else id_column
    options = {"label": label, "id": id_column}
    candidates = [c for c in columns if c not in (label, id_column)]
    if raw.images is None:
        features = st.multiselect("Feature columns", candidates, key=f"{prefix}_features",
                                  default=[c for c in (raw.features or candidates) if c in candidates],
                                  help="Leave out ground-truth or leakage columns.")
        text = st.selectbox("Free-text column", ["(auto-detect)", "(none)"] + candidates, key=f"{prefix}_text")
        if features != candidates:
            options["features"] = features
        if text not in ("(auto-detect)", "(none)"):
            options["text"] = text
    else:
        height, width = raw.images.shape[1:3]
        st.caption(f"Image data: {len(raw.images):,} images of {height}×{width} pixels.")
    return options


def _encoding(path: Path, prefix: str):
    """The text encoding chosen for a text table (None: detected), from the Encoding box."""
    if not loaders.is_text_table(path):
        return None
    choice = st.selectbox("Encoding", loaders.ENCODINGS, key=f"{prefix}_encoding",
                          help="auto: UTF-8 (or what a byte-order mark says), else Windows-1252 with a note. Choose "
                               "another when the file does not load or its accented letters look wrong.")
    return None if choice == "auto" else choice


def column_form(path: Path, prefix: str, origin: str, shown_name: str) -> None:
    """Label, id, feature and featurizer choices for a file, then a Load button."""
    drawn_for = state.get("column_form_file")
    if drawn_for.get(prefix) != str(path):  # another file: its own columns' defaults, not the last file's picks
        state.reset_widgets([f"{prefix}_{name}" for name in ("label", "id", "features", "text", "encoding")])
        drawn_for[prefix] = str(path)
    encoding = _encoding(path, prefix)  # drawn before the preview: a file that does not decode still offers it
    with state.user_errors():
        raw = loaders.raw_preview(path, encoding)
        frame = raw.frame
        with st.container(border=True):
            st.markdown(f"**{cards.literal(shown_name)}** · {len(frame):,} rows · {len(frame.columns):,} columns")
            options = _columns(frame, raw, prefix)
            if encoding:
                options["encoding"] = encoding
            options.update(featurizer_options(prefix, "image" if raw.images is not None else "auto"))
            options["drop_missing_labels"] = st.checkbox("Drop rows with a missing label", key=f"{prefix}_drop")
            st.dataframe(frame.head(20), height=240, hide_index=True)
            if st.button("Load data", type="primary", key=f"{prefix}_load", icon=":material/upload:"):
                load_into_state(lambda: loaders.load(path, options), origin)
