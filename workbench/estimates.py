"""Estimates on screen: the quick figure at once, the leak-free one as soon as its work is done.

Tune's live figure: each slider move re-selects on every fold's training rows with that fold's
own scores (computed once per score table, without the fold's labels, in a background job) and
trains on them. Until those fold-wise scores exist, the figure uses the all-rows scores and is
marked optimistic.

Export's estimate:

``core.estimate`` is leak-free by default: it refits the label-using scorers of the selection on
each training fold, which takes from seconds to minutes. The Export page shows the quick
(optimistic, all-rows scores) comparison immediately, starts the leak-free one as a job, and
switches to it, in the cards and in the manifest, when it is ready.

What a slider move costs (only what changed is computed):

- the selection's figure: one fit per fold on the new kept rows, warm-started from the nearest
  previous fit; a position seen before is answered from memory (:data:`LIVE_MEMO` positions);
- the full-data figure: computed once per evaluator;
- the random reference of the new size: a background job, so the selection's figure never waits
  for its five draws x five folds. Until it is ready, the card shows the nearest size computed so
  far (or "computing" before the first one) and the job's bar says so; the next move cancels a
  job still running for an old size (debounce), so work is only spent where the slider settles.
"""

from __future__ import annotations

from collections import OrderedDict

import core
from workbench import jobs, state, tuning


LIVE_MEMO = 64  # selection figures remembered per session (a few hundred bytes each)
RANDOM_JOB = "random_reference"
INLINE_ROWS = 5_000  # below this the random draws take a fraction of a second: computed with the figure


def _finish(job) -> None:
    if job.status == "done":
        state.get("estimates")[job.context["key"]] = job.result


def comparison(ds, sel, table, evaluator) -> dict:
    """The best comparison block available now for ``sel`` (``block["leak_free"]`` says which)."""
    key = (tuning.identity(sel), state.get("table_version"))
    honest = state.get("estimates").get(key)
    if honest is not None:
        return honest
    quick = state.memo("quick_estimate", key, lambda: core.estimate(ds, sel, scores=table, evaluator=evaluator,
                                                                     leak_free=False))
    if quick.get("leak_free") is False:
        running = jobs.current("estimate")
        if running is None or running.context.get("key") != key:
            if running is not None:
                running.cancel()
            jobs.start("estimate", lambda job: core.estimate(ds, sel, scores=table, evaluator=evaluator,
                                                             progress=job.progress, cancel=job.cancel_event),
                       label="Leak-free estimate", context={"key": key}, on_done=_finish)
        jobs.panel("estimate")
    return quick


def _keep_fold_scores(job) -> None:
    # a failed or cancelled job leaves None for its key, so it is not started again for the same table
    state.put("fold_scores", (job.context["key"], job.result if job.status == "done" else None))


def live(ds, sel, table, evaluator) -> tuple:
    """``(Estimate, leak_free)`` of the current selection for Tune's cards, as fast as the state allows."""
    _cancel_stale_random(ds, evaluator, sel.n_kept)  # a new position: free the cores for its figure first
    key = (state.get("table_version"), evaluator.folds, evaluator.seed)
    stored = state.get("fold_scores")
    settled = stored is not None and stored[0] == key
    fold_scores = stored[1] if settled else None
    if fold_scores is None and table is not None and core.workflows.labelled_scorers(table):
        running = jobs.current("fold_scores")
        if running is not None and running.context.get("key") != key:
            running.cancel()
        if not settled and (running is None or running.context.get("key") != key):
            jobs.start("fold_scores", lambda job: core.workflows.fold_scores_of(
                ds, table, evaluator, progress=job.progress, cancel=job.cancel_event),
                label="Leak-free scores (each fold scored without its labels)", context={"key": key},
                on_done=_keep_fold_scores)
        jobs.panel("fold_scores")
        return evaluator.estimate(sel.mask), not core.selection.scores_read_labels(sel.resolved_strategy)
    memo = state.get("memo").setdefault("live_estimates", OrderedDict())
    position = (tuning.identity(sel), key, id(fold_scores), evaluator.describe())
    if position not in memo:
        estimate, leak_free, _ = core.evaluation.selection_estimate(ds, sel, scores=table, evaluator=evaluator,
                                                                    fold_scores=fold_scores)
        memo[position] = (estimate, leak_free)
        while len(memo) > LIVE_MEMO:
            memo.popitem(last=False)
    memo.move_to_end(position)
    return memo[position]


def _random_key(ds, evaluator, n_kept: int, repeats: int) -> tuple:
    return (ds.fingerprint, evaluator.folds, evaluator.seed, evaluator.describe(), int(n_kept), int(repeats))


def _cancel_stale_random(ds, evaluator, n_kept: int, repeats: int = 5) -> None:
    running = jobs.current(RANDOM_JOB)
    if running is not None and running.running and running.context["key"] != _random_key(ds, evaluator, n_kept,
                                                                                          repeats):
        running.cancel()


def references(ds, sel, evaluator, repeats: int = 5) -> tuple:
    """``(full, random)`` for Tune's cards without making the slider wait for the random draws.

    The full-data figure is computed once per evaluator. The random reference of ``sel.n_kept``
    rows is returned when it is known; otherwise a background job computes it and, meanwhile, the
    reference of the nearest size already computed is returned (its ``n_kept`` and the job's bar
    say so), or None while the very first one is computed (the card says "computing"; at 100k
    rows it is 25 fits, 10-25 s, that the first open of Tune no longer waits for). References of
    small data (up to :data:`INLINE_ROWS` rows, a fraction of a second) are computed here.
    """
    full = evaluator.full()
    exact = evaluator.random_if_ready(sel.n_kept, repeats)
    if exact is not None:
        return full, exact
    if ds.n_samples <= INLINE_ROWS:
        return full, evaluator.random(sel.n_kept, repeats)
    nearest = evaluator.random_if_ready(sel.n_kept, repeats, nearest=True)
    key = _random_key(ds, evaluator, sel.n_kept, repeats)
    running = jobs.current(RANDOM_JOB)
    if running is None or running.context["key"] != key or not running.running:
        n_kept = sel.n_kept
        until = f"the card shows {nearest.n_kept:,} rows until then" if nearest is not None else "the card waits"
        jobs.start(RANDOM_JOB, lambda job: evaluator.random(n_kept, repeats, job.progress, job.cancel_event),
                   label=f"Random reference for {n_kept:,} rows ({until})", context={"key": key})
    jobs.panel(RANDOM_JOB)
    return full, nearest
