"""What a selection is worth, on screen: the one estimate route of the app (Tune, Export, summary).

:func:`reading` answers "what is this subset worth?" for every page, from one memo and one set of
background jobs of the compute plan (:mod:`workbench.jobs`), so Export shows at once the figure
Tune has for the same recipe and no page starts work another page already started:

- **the pruned figure.** A selection whose scores read no labels is leak-free as it is. One whose
  scores read the labels is leak-free once the data set's fold-wise scores exist (each evaluator
  fold scored without its labels: one job per score table, :data:`FOLD_JOB`, shared with Auto and
  the curve); until then the figure uses the all-rows scores and is marked *optimistic* with the
  time the honest one needs. Each position is memoised (:data:`LIVE_MEMO`).
- **the full-data figure**: once per evaluator.
- **random pruning of the same size**: exact when its background job (:data:`RANDOM_JOB`, started
  for the size the slider stands at, superseded by the next move) is done; meanwhile the random
  curve (:data:`CURVE_JOB`, computed once per data set ahead of need) gives it by interpolation,
  marked so; before that, the nearest size computed (its size said).

A verdict (green or red) is drawn only from a leak-free figure against the exact reference of the
same size (:attr:`Reading.final`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

import core
from core.evaluation import class_comparison, random_curve, selection_figure
from workbench import jobs, state, tuning

LIVE_MEMO = 64  # selection figures remembered per session (a few hundred bytes each)
FOLD_JOB = "fold_scores"
RANDOM_JOB = "random_reference"
CURVE_JOB = "random_curve"
INLINE_ROWS = 5_000  # below this the random draws take a fraction of a second: computed with the figure
REPEATS = 5


@dataclass(frozen=True)
class Reading:
    """The figures a page shows for one selection, and how final each is.

    ``random_state``: ``"exact"`` (same size), ``"interpolated"`` (from the random curve),
    ``"nearest"`` (another size, ``random.n_kept``) or ``"computing"`` (``random`` is None).
    ``honest_in``: for an optimistic figure, the seconds until the leak-free one (None: unknown,
    or never, when the scores came from a file and cannot be refit per fold).
    """

    pruned: object
    leak_free: bool
    full: object
    random: Optional[object]
    random_state: str
    honest_in: Optional[float] = None
    honest_coming: bool = False

    @property
    def final(self) -> bool:
        """Leak-free and against the exact reference of the same size: a verdict may be drawn."""
        return self.leak_free and self.random_state == "exact"

    def block(self) -> dict:
        """The comparison block (as ``core.estimate`` returns it) of what is shown now, with the worst
        class and the classes thinned most once the random reference is the exact one."""
        block = {"selection": self.pruned.to_dict(), "full": self.full.to_dict(),
                 "random": None if self.random is None else self.random.to_dict()}
        if self.random is not None and self.random_state == "exact":
            block.update(class_comparison(self.pruned, self.random, self.full))
        return block


def reading(ds, sel, table, evaluator, *, priority: int = jobs.NOW) -> Reading:
    """The best figures for ``sel`` now; starts (or joins) the background work that improves them."""
    _cancel_stale_random(ds, evaluator, sel.n_kept)  # a new position: free the cores for its figure first
    pruned, leak_free, coming, honest_in = _pruned(ds, sel, table, evaluator, priority)
    full = evaluator.full()
    rand, random_state = _random(ds, sel, evaluator, full)
    return Reading(pruned, leak_free, full, rand, random_state, honest_in, coming)


def manifest_block(ds, sel, table, evaluator, found: Reading) -> Optional[dict]:
    """The comparison block a manifest records, once the reading is final (None before)."""
    if not found.final:
        return None
    key = (tuning.identity(sel), _fold_key(ds, evaluator), evaluator.describe(), "block")
    return state.memo("manifest_block", key, lambda: core.evaluation.estimate_selection(
        ds, sel, scores=table, evaluator=evaluator, fold_scores=_stored_fold_scores(ds, evaluator)))


# --- the pruned figure --------------------------------------------------------------------------


def _fold_key(ds, evaluator) -> tuple:
    return (ds.fingerprint, state.get("table_version"), evaluator.folds, evaluator.seed)


def _stored_fold_scores(ds, evaluator):
    stored = state.get("fold_scores")
    return stored[1] if stored is not None and stored[0] == _fold_key(ds, evaluator) else None


def _keep_fold_scores(job) -> None:
    # a failed or cancelled job leaves None for its key, so it is not started again for the same table
    state.put("fold_scores", (job.context["key"], job.result if job.status == "done" else None))


def fold_scores_work(ds, table, evaluator, *, priority: int = jobs.NOW) -> tuple:
    """``(fold_scores, job)``: the table's fold-wise scores if settled, else the one job making them.

    Every page that needs them (Tune's figure, Export, Auto, the curve) asks here, so they are
    computed once per score table; ``(None, None)`` when no scorer of the table reads labels (one
    all-rows mask then serves every fold) or when their job failed or was cancelled.
    """
    key = _fold_key(ds, evaluator)
    stored = state.get("fold_scores")
    if stored is not None and stored[0] == key:
        return stored[1], None
    if table is None or not core.workflows.labelled_scorers(table):
        return None, None
    job = jobs.start(FOLD_JOB, lambda job: core.workflows.fold_scores_of(
        ds, table, evaluator, progress=job.progress, cancel=job.cancel_event),
        label="Leak-free scores (each fold scored without its labels)", context={"key": key},
        on_done=_keep_fold_scores, key=key, priority=priority)
    return None, job


def _pruned(ds, sel, table, evaluator, priority) -> tuple:
    """``(estimate, leak_free, honest_coming, honest_in)`` of the selection."""
    recipe = sel.resolved_recipe
    fold_scores, job = (None, None)
    if recipe.reads_labels and not (sel.details or {}).get("honest_estimate"):
        fold_scores, job = fold_scores_work(ds, table, evaluator, priority=priority)
        if job is not None:
            jobs.panel(FOLD_JOB)
            return evaluator.estimate(sel.mask), False, True, job.seconds_left()
    memo = state.get("memo").setdefault("live_estimates", OrderedDict())
    position = (tuning.identity(sel), _fold_key(ds, evaluator), id(fold_scores), evaluator.describe())
    if position not in memo:
        estimate, leak_free, _ = selection_figure(ds, sel, scores=table, evaluator=evaluator,
                                                  fold_scores=fold_scores)
        memo[position] = (estimate, leak_free)
        while len(memo) > LIVE_MEMO:
            memo.popitem(last=False)
    memo.move_to_end(position)
    estimate, leak_free = memo[position]
    return estimate, leak_free, False, None


# --- the references -----------------------------------------------------------------------------


def _random_key(ds, evaluator, n_kept: int, repeats: int) -> tuple:
    return (ds.fingerprint, evaluator.folds, evaluator.seed, evaluator.describe(), int(n_kept), int(repeats))


def _cancel_stale_random(ds, evaluator, n_kept: int, repeats: int = REPEATS) -> None:
    running = jobs.current(RANDOM_JOB)
    if running is not None and running.running and running.key != _random_key(ds, evaluator, n_kept, repeats):
        running.cancel()


def _random(ds, sel, evaluator, full, repeats: int = REPEATS) -> tuple:
    """``(estimate or None, state)`` of random pruning at ``sel.n_kept`` rows (see :class:`Reading`)."""
    exact = evaluator.random_if_ready(sel.n_kept, repeats)
    if exact is not None:
        return exact, "exact"
    if ds.n_samples <= INLINE_ROWS:
        return evaluator.random(sel.n_kept, repeats), "exact"
    n_kept = sel.n_kept
    curve = random_curve_now(ds, evaluator, full, near=n_kept)  # asked first: it serves every size
    background = evaluator.twin()  # its fits never make the slider's figure wait
    jobs.start(RANDOM_JOB, lambda job: background.random(n_kept, repeats, job.progress, job.cancel_event),
               label=f"Random reference for {n_kept:,} rows", key=_random_key(ds, evaluator, n_kept, repeats),
               priority=jobs.AHEAD, yields=True)
    jobs.panel(RANDOM_JOB)
    interpolated = curve.at(n_kept) if curve is not None else None
    if interpolated is not None:
        return interpolated, "interpolated"
    nearest = evaluator.random_if_ready(n_kept, repeats, nearest=True)
    return (nearest, "nearest") if nearest is not None else (None, "computing")


def _keep_curve(job) -> None:
    state.put("random_curve", (job.context["key"], job.result if job.status == "done" else job.partial))


def random_curve_now(ds, evaluator, full=None, *, near: Optional[int] = None):
    """The data set's random curve as far as it is computed (None before its first point).

    Started once per evaluator, ahead of every size a slider may reach; its points appear as they
    are computed (the sizes near ``near`` first).
    """
    key = (ds.fingerprint, evaluator.folds, evaluator.seed, evaluator.describe())
    done = state.get("random_curve")
    if done is not None and done[0] == key:
        return done[1]
    job = jobs.current(CURVE_JOB)
    if job is None or job.key != key:
        background = evaluator.twin()
        job = jobs.start(CURVE_JOB, lambda job: random_curve(
            background, near=near, full=full, progress=job.progress, cancel=job.cancel_event,
            partial=lambda curve: setattr(job, "partial", curve)),
            label="Random curve (random pruning at every size)", context={"key": key}, on_done=_keep_curve,
            key=key, priority=jobs.NOW, yields=True)
    return job.partial
