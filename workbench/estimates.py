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
"""

from __future__ import annotations

import core
from workbench import jobs, state, tuning


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
    estimate, leak_free, _ = core.evaluation.selection_estimate(ds, sel, scores=table, evaluator=evaluator,
                                                                fold_scores=fold_scores)
    return estimate, leak_free
