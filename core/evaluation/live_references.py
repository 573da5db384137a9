"""Random subsets of the same size: the reference every estimate is shown beside.

Mixed into :class:`~core.evaluation.live.LiveEvaluator`: repeat ``r`` keeps the first ``n_kept`` rows
of a fixed permutation (neighbouring sizes share rows), on the evaluator's folds, cached per
(size, repeats) in a store the evaluator's twin shares.
"""

from __future__ import annotations

import numpy as np

from core.evaluation.block import comparison_block
from core.evaluation.figures import Estimate, kept_share, summarise
from core.foundation.progress import check_cancelled, report
from core.foundation.seeds import rng


class RandomReferences:
    """Random-subset references of a ``LiveEvaluator`` (a mixin: it reads the evaluator's fields)."""

    def random_masks(self, n_kept: int, repeats: int = 5) -> list:
        """The random subsets used as the reference for ``n_kept`` rows.

        Repeat ``r`` keeps the first ``n_kept`` rows of a fixed permutation, so references for
        neighbouring sizes share rows and update incrementally as a slider moves. Random
        subsets use no labels, so one mask serves every fold.
        """
        n = self.ds.n_samples
        n_kept = int(min(max(n_kept, 0), n))
        masks = []
        for r in range(repeats):
            order = rng(self.seed, "random-reference", r).permutation(n)
            mask = np.zeros(n, dtype=bool)
            mask[order[:n_kept]] = True
            masks.append(mask)
        return masks

    def random_fold_accuracies(self, n_kept: int, repeats: int = 5, progress=None, cancel=None) -> np.ndarray:
        """Per-fold accuracy of each random subset of ``n_kept`` rows, shape (repeats, folds)."""
        return self._random(n_kept, repeats, progress, cancel)[0]

    def _random(self, n_kept, repeats, progress, cancel) -> tuple:
        key = (int(n_kept), int(repeats))
        if key not in self._random_cache:
            fold_acc, class_acc = [], []
            for r, mask in enumerate(self.random_masks(n_kept, repeats)):
                check_cancelled(cancel)
                report(progress, r, repeats, f"random subset {r + 1} of {repeats}")
                acc, per_class = self.fold_results(np.broadcast_to(mask, (self.n_folds, len(mask))), None, cancel)
                fold_acc.append(acc)
                class_acc.append(per_class)
            report(progress, repeats, repeats, "random subsets done")
            self._random_cache[key] = (np.array(fold_acc), np.array(class_acc))
        return self._random_cache[key]

    def random_if_ready(self, n_kept: int, repeats: int = 5, *, nearest: bool = False):
        """The random reference for ``n_kept`` rows if it was computed already, else None (computes nothing).

        ``nearest=True``: else the one of the nearest size computed so far (its ``n_kept`` says which).
        """
        with self._lock:
            sizes = [size for size, r in self._random_cache if r == int(repeats)]
        if int(n_kept) not in sizes and not (nearest and sizes):
            return None
        size = int(n_kept) if int(n_kept) in sizes else min(sizes, key=lambda s: abs(s - int(n_kept)))
        return self.random(size, repeats)

    def random(self, n_kept: int, repeats: int = 5, progress=None, cancel=None) -> Estimate:
        """Random subsets of ``n_kept`` rows on the same folds; spread over repeats x folds."""
        fold_acc, class_acc = self._random(n_kept, repeats, progress, cancel)
        share = self._random_share(int(n_kept), int(repeats))
        return summarise(fold_acc, class_acc, self.ds.classes, n_kept, self.ds.n_samples,
                         self.model_description, self.budget_description, repeats, kept_share=share)

    def _random_share(self, n_kept: int, repeats: int) -> dict:
        """Kept share per class of the random references (computed once per size: a slider reads it often)."""
        cache = self.__dict__.setdefault("_share_cache", {})
        if (n_kept, repeats) not in cache:
            shares = [kept_share(np.broadcast_to(m, (self.n_folds, len(m))), self.fold_of_row_, self.ds.y,
                                 self.ds.classes) for m in self.random_masks(n_kept, repeats)]
            cache[(n_kept, repeats)] = {c: None if shares[0][c] is None else float(np.mean([s[c] for s in shares]))
                                        for c in shares[0]}
            while len(cache) > 64:
                cache.pop(next(iter(cache)))
        return dict(cache[(n_kept, repeats)])

    def compare(self, mask, repeats: int = 5) -> dict:
        """The selection next to the full data and random subsets of the same size (one mask
        for every fold; :func:`core.evaluation.estimate_selection` gives the leak-free block)."""
        return comparison_block(self, self.estimate(mask), repeats, leak_free=None)
