"""Evaluators on the same folds as a :class:`~core.evaluation.live.LiveEvaluator`, for other work.

Screening and background work need the evaluator's folds with another budget or another lock:
a capped-iteration twin that screens many candidates (:meth:`SameFoldVariants.screening`), a twin
whose fits never make the interactive figure wait (:meth:`~SameFoldVariants.twin`), the instant
ridge first figure (:meth:`~SameFoldVariants.first_paint`), the same evaluator on plain folds
(:meth:`~SameFoldVariants.plain_folds`) and another model on the same folds (:meth:`~SameFoldVariants.proxy`).
Mixed into ``LiveEvaluator``; each variant is made once.
"""

from __future__ import annotations

#: Warm-started L-BFGS steps of the screening twin.
SCREEN_ITERATIONS = 15


class SameFoldVariants:
    """The derived evaluators of a ``LiveEvaluator`` (a mixin: it reads the evaluator's fields)."""

    def plain_folds(self):
        """The same evaluator on plain stratified folds (copies may be split): what grouping changed."""
        if self.group_copies is False or not self.fold_info_.get("groups"):
            return self
        with self._lock:
            if getattr(self, "_plain", None) is None:
                self._plain = type(self)(self.ds, self.folds, self.seed, self.model, alpha=self.alpha,
                                         exact=self.exact, max_iter=self.max_iter, group_copies=False,
                                         estimator=self.estimator)
            return self._plain

    def screening(self):
        """A cheaper twin on the same folds for a first pass over many candidates.

        Logistic regression capped at :data:`SCREEN_ITERATIONS` warm-started L-BFGS steps (for
        the slow MLP and boosting targets too); kNN and ridge are already cheap and screen
        themselves.
        """
        if self.model in ("knn", "ridge") and not self.exact:
            return self
        if self._screen is None:
            self._screen = type(self)(self.ds, self.folds, self.seed, "logreg", max_iter=SCREEN_ITERATIONS,
                                      fold_of_row=self.fold_of_row_)
            self._screen._fold_info = self.fold_info_
        return self._screen

    def proxy(self, model: str):
        """The same folds with another model: the one whose figures auto's choice weighs at small budgets
        for a slow, noisy target (selection via proxy, :func:`core.search.screening.decision_model`).

        Its fits are full (no step cap), with that model's defaults; ``self`` when ``model`` is this
        evaluator's own and no estimator of the user's is set.
        """
        if model == self.model and self.estimator is None:
            return self
        with self._lock:
            proxies = self.__dict__.setdefault("_proxies", {})
            if model not in proxies:
                proxies[model] = type(self)(self.ds, self.folds, self.seed, model, fold_of_row=self.fold_of_row_)
                proxies[model]._fold_info = self.fold_info_  # same folds, same rule (not "given")
            return proxies[model]

    def twin(self):
        """A twin on the same folds and model for background work, sharing the random references.

        Its fits hold its own lock, so a background job (random references, the random curve, a
        search) never makes the interactive figure of this evaluator wait for it; a reference the
        twin computes is known to this evaluator at once (one shared store).
        """
        with self._lock:
            if getattr(self, "_twin", None) is None:
                twin = type(self)(self.ds, self.folds, self.seed, self.model, alpha=self.alpha, exact=self.exact,
                                  max_iter=self.max_iter, fold_of_row=self.fold_of_row_, estimator=self.estimator)
                twin._random_cache = self._random_cache
                twin._fold_info = self.fold_info_  # same folds, same rule (not "given")
                self._twin = twin
            return self._twin

    def first_paint(self, mask):
        """The closed-form ridge figure for ``mask``: instant, labelled as a first figure only."""
        if self.model == "ridge":
            return self.estimate(mask)
        if self._first_paint is None:
            self._first_paint = type(self)(self.ds, self.folds, self.seed, "ridge", alpha=self.alpha,
                                           fold_of_row=self.fold_of_row_)
            self._first_paint._fold_info = self.fold_info_
        est = self._first_paint.estimate(mask)
        est.note = f"instant first figure (ridge), replaced by {self.model} when it is ready"
        return est
