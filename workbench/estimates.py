"""Export's estimate: the quick figure at once, the leak-free one from a background job.

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
