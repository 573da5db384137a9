"""The user's own scikit-learn classifier (or pipeline) as the target model of an estimate.

``LiveEvaluator(ds, estimator=...)`` and ``evaluate_exact(ds, mask, estimator=...)`` train a fresh
``sklearn.base.clone`` of it on each fold's kept training rows and score it on the fold's held-out
rows, on the same folds as every other figure. It sees the features as the workbench featurized
them (``ds.X``) and the labels as class codes ``0 .. n_classes - 1``. Searches over many subsets
(``auto``'s screening, the warm-started figure while a slider moves) still train the evaluator's
built-in ``model`` (logistic regression unless given): only the estimates come from the estimator.
"""

from __future__ import annotations

import time
from contextlib import nullcontext

import numpy as np

from core.evaluation import models as exact_models
from core.foundation.errors import ConfigError
from core.foundation.progress import check_cancelled
from core.foundation.threads import single_threaded

#: Training sets below this many rows fit on one thread (see :meth:`EstimatorEngine.predict`).
SMALL_FIT = 20_000


def check_estimator(estimator):
    """``estimator`` if it is a scikit-learn classifier (or a pipeline ending in one); ConfigError otherwise."""
    from sklearn.base import is_classifier

    if isinstance(estimator, type):
        raise ConfigError(f"estimator must be an instance, e.g. {estimator.__name__}(), not the class itself.")
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict") and hasattr(estimator, "get_params")):
        raise ConfigError(f"estimator must be a scikit-learn classifier (fit, predict, get_params); got "
                          f"{type(estimator).__name__}.")
    if not is_classifier(estimator):
        raise ConfigError(f"estimator must be a classifier; {type(estimator).__name__} is not one (scikit-learn's "
                          "is_classifier says no).")
    return estimator


def describe_estimator(estimator) -> str:
    """One line naming the estimator and its non-default parameters."""
    text = " ".join(repr(estimator).split())
    return f"your estimator {text if len(text) <= 200 else text[:197] + '...'}"


class EstimatorEngine:
    """A fresh clone of the user's estimator, trained per fold on the kept training rows."""

    def __init__(self, ds, fold_of_row, seed, *, estimator, **_):
        self.ds, self.fold_of_row, self.seed, self.estimator = ds, fold_of_row, int(seed), estimator

    def predict(self, fold, train_rows, test_rows, progress=None, cancel=None):
        from sklearn.base import clone

        check_cancelled(cancel)
        y_train = self.ds.y[train_rows]
        if len(np.unique(y_train)) < 2:
            return exact_models.fit_predict("logreg", self.ds.X[train_rows], y_train, self.ds.X[test_rows],
                                            self.ds.n_classes, self.seed, len(train_rows))  # a constant
        # one thread below SMALL_FIT rows, as our own boosting does: OpenMP teams oversubscribed on a
        # busy machine spin (a 400-row gradient boosting fit: 0.9 s on one thread, minutes on two at load 18)
        small = len(train_rows) < SMALL_FIT
        with single_threaded("openmp") if small else nullcontext(), single_threaded("blas") if small else nullcontext():
            try:
                model = clone(self.estimator).fit(self.ds.X[train_rows], y_train)
                return np.asarray(model.predict(self.ds.X[test_rows])).astype(np.int64)
            except (ValueError, TypeError) as error:  # e.g. more neighbours than a fold's kept rows
                raise ConfigError(f"Your target model could not be trained on a fold's {len(train_rows):,} kept "
                                  f"rows: {str(error).rstrip('.')}. Check its parameters, or keep more rows.") from None


def estimator_from_text(text: str, params=None):
    """The classifier named ``module:Class`` (a CLI's ``--eval-model``), built with ``params`` (a JSON object text).

    Raises ConfigError, with one line saying what is wrong, when the module cannot be imported, it has
    no such class, the parameters are not a JSON object the class accepts, or the result is no classifier.
    """
    import importlib
    import json

    module_name, _, class_name = str(text).partition(":")
    if not module_name or not class_name:
        raise ConfigError(f"A target model is given as module:Class (e.g. sklearn.ensemble:RandomForestClassifier), "
                          f"got {text!r}.")
    try:
        values = json.loads(params) if isinstance(params, str) else dict(params or {})
    except (ValueError, TypeError) as error:
        raise ConfigError(f"The target model's parameters must be a JSON object: {error}.") from None
    if not isinstance(values, dict):
        raise ConfigError(f"The target model's parameters must be a JSON object, got {params!r}.")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as error:
        raise ConfigError(f"Cannot import the target model's module {module_name!r}: {error}.") from None
    except AttributeError:
        raise ConfigError(f"Module {module_name!r} has no {class_name!r}.") from None
    from sklearn.base import BaseEstimator

    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):  # checked before anything is called
        raise ConfigError(f"{text} is not a scikit-learn estimator class; name a classifier class such as "
                          "sklearn.ensemble:RandomForestClassifier.")
    try:
        estimator = cls(**values)
    except TypeError as error:
        raise ConfigError(f"{text} does not take these parameters: {error}.") from None
    estimator = check_estimator(estimator)
    validate = getattr(estimator, "_validate_params", None)  # scikit-learn's own check, else made at the first fit
    if callable(validate):
        try:
            validate()
        except (ValueError, TypeError) as error:
            raise ConfigError(f"{text}: {error}") from None
    return estimator


# --- is the live figure faithful to the user's estimator? ----------------------------------------

#: Rank agreement (Spearman, the lowest over the keep fractions measured) from which the built-in
#: live figure counts as proven faithful to the user's estimator (issue 23: "aim >= 0.9").
FAITHFUL = 0.9
#: Keep fractions the agreement is measured at (the benchmark's, ``benchmarks/target_agreement.py``).
AGREEMENT_KEEPS = (0.1, 0.3)


def panel_strategies(score_names) -> list:
    """The strategies an agreement is measured over: random, and per scorer both ends and CCS."""
    out = ["random"]
    for name in score_names:
        out += [f"{name}:high", f"{name}:low", f"ccs:{name}"]
    return out


def rank_agreement(live, exact) -> dict:
    """Spearman's and Kendall's rank correlation of two figures over the same subsets (nan when undefined)."""
    from scipy.stats import kendalltau, spearmanr

    live, exact = np.asarray(live, dtype=float), np.asarray(exact, dtype=float)
    if len(live) < 3 or np.ptp(live) == 0 or np.ptp(exact) == 0:
        return {"spearman": float("nan"), "kendall": float("nan"), "n": int(len(live))}
    return {"spearman": float(spearmanr(live, exact).statistic), "kendall": float(kendalltau(live, exact).statistic),
            "n": int(len(live))}


def measure_agreement(live, estimator, masks: dict, progress=None, cancel=None) -> dict:
    """How faithfully ``live`` (a LiveEvaluator) ranks the subsets ``masks`` as ``estimator`` does.

    ``masks`` maps ``(keep, strategy)`` to a kept mask. Both figures train on the same kept rows of
    the same folds (``live.fold_of_row_``), so what differs is the model alone. Returns
    ``{"by_keep": {keep: {"spearman", "kendall", "n"}}, "spearman", "kendall"`` (the lowest over the
    keeps), ``"faithful"``, ``"rows"`` (keep, strategy, live, exact) and ``"seconds"`` (exact fits)}.
    """
    # an evaluator of the live one's kind (live.py imports this module) on its folds
    exact = type(live)(live.ds, live.folds, live.seed, fold_of_row=live.fold_of_row_,
                       estimator=check_estimator(estimator))
    rows, spent = [], 0.0
    for i, ((keep, strategy), mask) in enumerate(masks.items()):
        check_cancelled(cancel)
        if progress is not None:
            progress(i, len(masks), f"{strategy} at keep {keep:g}")
        ours = live.estimate(mask, cancel=cancel).accuracy
        start = time.perf_counter()
        theirs = exact.estimate(mask, cancel=cancel).accuracy
        spent += time.perf_counter() - start
        rows.append({"keep": keep, "strategy": strategy, "live": ours, "exact": theirs})
    by_keep = {}
    for keep in dict.fromkeys(r["keep"] for r in rows):
        part = [r for r in rows if r["keep"] == keep]
        by_keep[keep] = rank_agreement([r["live"] for r in part], [r["exact"] for r in part])
    worst = min(by_keep.values(), key=lambda a: -np.inf if np.isnan(a["spearman"]) else a["spearman"],
                default={"spearman": float("nan"), "kendall": float("nan")})
    kendalls = [a["kendall"] for a in by_keep.values()]
    kendall = float("nan") if not kendalls or np.isnan(kendalls).any() else min(kendalls)
    return {"by_keep": by_keep, "spearman": worst["spearman"], "kendall": kendall,
            "faithful": bool(worst["spearman"] >= FAITHFUL), "rows": rows, "seconds": spent}
