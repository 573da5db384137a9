"""The workbench as a scikit-learn / imbalanced-learn sampler: prune the rows a pipeline trains on.

``Pruner`` follows imbalanced-learn's sampler contract (``fit_resample(X, y) -> (X_res, y_res)``),
so it sits in an ``imblearn.pipeline.Pipeline`` and acts only at fit time: inside
``cross_validate`` or ``GridSearchCV`` it scores and selects among the training rows it is given,
never the held-out fold's, which makes the pipeline's figure leak-free by construction.

Example::

    from imblearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression
    pipe = make_pipeline(core.Pruner("ccs:el2n", keep=0.3), LogisticRegression(max_iter=1000))
    GridSearchCV(pipe, {"pruner__keep": [0.1, 0.3, 0.5]}).fit(X, y)
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from core.data import Dataset
from core.evaluation import LiveEvaluator
from core.foundation.encoding import to_jsonable
from core.foundation.errors import ConfigError
from core.outputs import write_json
from core.scorers import compute_scores
from core.selection import Recipe
from core.workflows.pipeline import build_manifest, select


class Pruner(BaseEstimator):
    """Keep the rows a workbench strategy chooses, as a step of a scikit-learn pipeline.

    Parameters
    ----------
    strategy : str
        Any strategy text of the grammar (``"ccs:el2n"``, ``"drop-flagged:duplicate"``, ``"auto"``...;
        :func:`core.list_strategies`). ``"auto"`` runs a nested search among the given rows.
    keep : float in (0, 1] or None
        Fraction of the rows to keep (the strategy's budget rule says whether it needs one).
    threshold : float, optional
        A score threshold instead of ``keep``, for the strategies that take one.
    scorers : str or list of str, optional
        The scorers to compute; by default those the strategy names (``"default"`` for ``auto``).
    seed : int
        Seeds the scorers, the strategy and (for ``auto``) the inner folds.
    folds : int
        Cross-fitting folds of the model-based scorers, and the inner folds of ``auto``'s search.
    model : str
        Proxy model of the model-based scorers (``"logreg"``, ``"mlp"``, ``"knn"``).
    cache : bool
        Reuse scores cached on disk for identical rows (the workbench's score cache).

    Attributes
    ----------
    recipe_ : Recipe
        The parsed strategy and budget.
    dataset_ : Dataset
        The rows given to the last fit (ids are their positions ``0 .. n - 1``).
    scores_ : DataFrame
        The scores computed on those rows.
    selection_ : Selection
        What was kept and why (``selection_.resolved_strategy`` is what ``auto`` chose).
    sample_indices_ : ndarray of int
        Positions of the kept rows among the rows given (imbalanced-learn's name).
    """

    def __init__(self, strategy: str = "ccs:el2n", keep: Optional[float] = 0.3, threshold: Optional[float] = None,
                 scorers=None, seed: int = 0, folds: int = 5, model: str = "logreg", cache: bool = True):
        self.strategy = strategy
        self.keep = keep
        self.threshold = threshold
        self.scorers = scorers
        self.seed = seed
        self.folds = folds
        self.model = model
        self.cache = cache

    # ------------------------------------------------------------------ the sampler contract

    def fit(self, X, y):
        """Score the given rows and choose the kept ones; returns self."""
        recipe = self._recipe()
        ds = _dataset(X, y)
        names = self._scorer_names(recipe)
        scores = (compute_scores(ds, names, seed=recipe.seed, folds=int(self.folds), model=self.model,
                                 cache=bool(self.cache)) if names else None)
        evaluator = LiveEvaluator(ds, folds=int(self.folds), seed=recipe.seed) if recipe.searched else None
        self.selection_ = select(ds, scores, recipe, evaluator=evaluator)
        self.recipe_, self.dataset_, self.scores_ = recipe, ds, scores
        self.sample_indices_ = np.flatnonzero(self.selection_.mask)
        return self

    def fit_resample(self, X, y):
        """Fit, then return the kept rows of ``X`` and ``y`` (same types, columns and order)."""
        self.fit(X, y)
        return _take(X, self.sample_indices_), _take(y, self.sample_indices_)

    # ------------------------------------------------------------------ the recipe as a manifest

    def manifest_(self, path=None) -> dict:
        """The manifest of the last fit's selection; written (atomically) as JSON when ``path`` is given.

        Its ``kept_ids`` are row positions in the X given to ``fit``: ``workbench apply MANIFEST DATA
        --force`` keeps the same rows of a file holding those rows in that order (its fingerprint
        differs from the in-memory arrays', hence ``--force``).
        """
        if not hasattr(self, "selection_"):
            raise ConfigError("Fit the Pruner first: its manifest records what a fit kept.")
        document = build_manifest(self.dataset_, self.selection_, None, self.scores_)
        document["sampler"] = {"class": "core.Pruner", "params": to_jsonable(self.get_params())}
        if path is not None:
            write_json(document, path)
        return document

    # ------------------------------------------------------------------ checks

    def _recipe(self) -> Recipe:
        if not isinstance(self.strategy, str) or not self.strategy.strip():
            raise ConfigError(f"strategy must be a strategy text such as 'ccs:el2n', got {self.strategy!r}.")
        for name in ("seed", "folds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"{name} must be an integer, got {value!r}.")
        if int(self.folds) < 2:
            raise ConfigError(f"folds must be at least 2, got {self.folds}.")
        return Recipe.of(self.strategy, self.keep, self.threshold, int(self.seed))

    def _scorer_names(self, recipe: Recipe):
        if self.scorers is not None:
            return self.scorers
        if recipe.searched:
            return "default"
        return list(recipe.needed_scorers)


def _dataset(X, y) -> Dataset:
    """The given rows as a Dataset (ids: positions), refusing what cannot be scored with one clear error."""
    values = X.to_numpy() if isinstance(X, pd.DataFrame) else X
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError("Pruner needs numeric features: encode text and categories before it in the "
                          "pipeline.") from None
    labels = np.asarray(y)
    if values.ndim != 2 or labels.ndim != 1 or len(values) != len(labels):
        raise ConfigError(f"Pruner needs X of shape (n_samples, n_features) and y of shape (n_samples,); got "
                          f"{values.shape} and {labels.shape}.")
    if not np.all(np.isfinite(values)):
        raise ConfigError("Pruner needs finite features: impute missing values before it in the pipeline.")
    if len(np.unique(labels)) < 2:
        raise ConfigError("Pruner needs at least two classes among the rows it is given.")
    return Dataset.from_arrays(values, labels)


def _take(data, positions):
    if isinstance(data, (pd.DataFrame, pd.Series)):
        return data.iloc[positions]
    if isinstance(data, np.ndarray):
        return data[positions]
    return np.asarray(data)[positions]
