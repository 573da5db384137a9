"""Score computation for the app: a background job that scores family by family.

Scorers of one family share work inside ``core.compute_scores`` (out-of-fold probabilities, the
neighbour graph, one proxy-training run), so each family is one call; finishing families land in
``job.partial`` so that a cancel keeps everything computed before it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import core
from core.foundation.progress import check_cancelled, scaled
from workbench import resources, state
from workbench.jobs import Job

FAMILY_ORDER = ("geometry", "model", "valuation", "dynamics")
FAMILY_TITLES = {
    "geometry": "Geometry — from the features alone",
    "model": "Model — cross-fitted predictions",
    "dynamics": "Training dynamics — recorded while a small model trains",
    "valuation": "Data valuation",
}
COST_HINTS = {"fast": ":green-badge[fast]", "medium": ":orange-badge[medium]", "slow": ":red-badge[slow]"}


def grouped(names: list) -> list:
    """``names`` split into per-family groups, cheapest families first."""
    family_of = {m["name"]: m["family"] for m in resources.list_scorers()}
    groups = []
    for family in FAMILY_ORDER + tuple(sorted(set(family_of.values()) - set(FAMILY_ORDER))):
        members = [n for n in names if family_of.get(n) == family]
        if members:
            groups.append(members)
    unknown = [n for n in names if n not in family_of]
    return groups + ([unknown] if unknown else [])


def start(ds, names: list, seed: int, folds: int) -> Job:
    """Start scoring ``names`` in the background; the job lands in session state."""
    groups = grouped(names)

    def target(job: Job) -> pd.DataFrame:
        for i, group in enumerate(groups):
            check_cancelled(job.cancel_event)
            progress = scaled(job.progress, i / len(groups), (i + 1) / len(groups))
            table = core.compute_scores(ds, group, seed=seed, progress=progress, cancel=job.cancel_event,
                                        folds=folds)
            job.partial = table if job.partial is None else job.partial.join(table, how="outer")
        return job.partial

    job = Job(target, label="Scoring").start()
    job.fingerprint = ds.fingerprint
    job.names = list(names)
    st.session_state["scores_job"] = job
    return job


def collect(job: Job) -> None:
    """Move a finished job's results (all of them, or those before a cancel) into the session."""
    ds = state.dataset()
    if ds is not None and getattr(job, "fingerprint", None) == ds.fingerprint:
        state.add_scores(job.result if job.status == "done" else job.partial)
    st.session_state["scores_job"] = None
    st.session_state["scores_last_job"] = {"status": job.status, "error": job.error, "names": job.names,
                                           "elapsed": job.elapsed,
                                           "partial": [] if job.partial is None else list(job.partial.columns)}
