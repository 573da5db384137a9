"""Score computation for the app: a background job that scores family by family.

Scorers of one family share work inside ``core.compute_scores`` (out-of-fold probabilities, the
neighbour graph, one proxy-training run), so each family is one call; finished families land in
``job.partial`` so that a cancel keeps everything computed before it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import core
from core.foundation import check_cancelled, scaled
from core.scorers import describe_seconds, estimate_seconds, join_scores
from workbench import jobs, resources, state

FAMILY_ORDER = ("geometry", "model", "valuation", "dynamics")
FAMILY_TITLES = {
    "geometry": "Geometry — from the features alone",
    "model": "Model — cross-fitted predictions",
    "dynamics": "Training dynamics — recorded while a small model trains",
    "valuation": "Data valuation",
}
ESTIMATE_HELP = ("Estimated on this machine from the rows and columns of the loaded data (core.scorers."
                 "estimate_seconds): each piece of shared work (neighbour graph, out-of-fold fits, a training loop) "
                 "counted once, with costs calibrated on a reference machine and scaled by a quick speed check. "
                 "Expect it within about a factor of two; work already cached on disk is quicker.")


def seconds_badge(seconds: float) -> str:
    """A coloured badge with a rounded time: green under 10 s, orange under a minute, red above."""
    colour = "green" if seconds < 10 else "orange" if seconds < 60 else "red"
    shown = "<1 s" if seconds < 1 else f"~{seconds:.0f} s" if seconds < 90 else f"~{seconds / 60:.0f} min"
    return f":{colour}-badge[{shown}]"


def estimate(ds, names: list, folds: int) -> dict:
    """``core.scorers.estimate_seconds`` of ``names`` on the loaded data, in the order the job runs them."""
    ordered = [name for group in grouped(names) for name in group]
    return estimate_seconds(ordered, ds.n_samples, ds.n_features, max(int(ds.n_classes), 1), folds=folds)


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


def target(ds, names: list, seed: int, folds: int):
    """The job body: score ``names`` family by family, keeping finished families in ``partial``."""
    groups = grouped(names)

    def run(job: jobs.Job) -> pd.DataFrame:
        for i, group in enumerate(groups):
            check_cancelled(job.cancel_event)
            progress = scaled(job.progress, i / len(groups), (i + 1) / len(groups))
            table = core.compute_scores(ds, group, seed=seed, progress=progress, cancel=job.cancel_event,
                                        folds=folds, plan_for=names)  # one neighbour graph for every family
            job.partial = join_scores(job.partial, table)
        return job.partial

    return run


def collect(job: jobs.Job) -> None:
    """Move a finished job's results (all of them, or those before a cancel) into the session."""
    ds = state.dataset()
    if ds is None or job.context.get("fingerprint") != ds.fingerprint or job.context.get("seed") != state.seed():
        return
    state.add_scores(job.result if job.status == "done" else job.partial)
    if job.status == "cancelled":
        kept = [] if job.partial is None else [c for c in job.partial.columns if c in job.context["names"]]
        job.context["on_cancel"] = (f"Kept what finished before the cancel: {', '.join(kept)}." if kept
                                    else "Nothing had finished yet.")


def chooser(ds, scorers: list) -> None:
    """Scorers grouped by family with a cost hint, and the button that scores the new ones."""
    computed, busy = set(state.score_columns()), jobs.running("scores")
    defaults = set(resources.default_scorers())
    alone = {meta["name"]: estimate(ds, [meta["name"]], state.folds())["total"] for meta in scorers}
    families = [f for f in FAMILY_ORDER if any(m["family"] == f for m in scorers)]
    picked = []
    for column, family in zip(st.columns(len(families)), families):
        with column:
            st.markdown(f"**{FAMILY_TITLES.get(family, family)}**")
            for meta in [m for m in scorers if m["family"] == family]:
                key = f"scores_pick_{meta['name']}"
                state.sticky(key, meta["name"] in defaults)
                done = " ✓" if meta["name"] in computed else ""
                if state.remember(key, st.checkbox(f"{meta['name']}{done} · {seconds_badge(alone[meta['name']])}",
                                                   key=key, disabled=busy,
                                                   help=f"Higher means {meta['higher_means']}. The badge: "
                                                        "estimated time of this scorer alone on this data; "
                                                        "scorers that share work (the neighbour graph, "
                                                        "out-of-fold fits) cost less together.")):
                    picked.append(meta["name"])
                st.caption(meta["description"])
    todo = [n for n in picked if n not in computed]
    together = estimate(ds, todo, state.folds()) if todo else None
    left, right = st.columns([1, 3])
    with left:
        jobs.button("scores", f"Compute {len(todo)} scorer{'s' if len(todo) != 1 else ''}",
                    target(ds, todo, state.seed(), state.folds()), key="scores_compute", label="Scoring",
                    context={"fingerprint": ds.fingerprint, "seed": state.seed(), "names": todo}, on_done=collect,
                    work=("scores", ds.fingerprint, state.seed(), state.folds(), tuple(todo)), priority=jobs.NOW,
                    disabled=not todo, type="primary", icon=":material/play_arrow:")
    if together:
        right.caption(f"Estimated time: **{describe_seconds(together['total'])}** for {len(todo)} scorer"
                      f"{'s' if len(todo) != 1 else ''} on {ds.n_samples:,} rows × {ds.n_features} columns"
                      + (f" ({together['neighbors']} neighbours)" if together["neighbors"] else "")
                      + ": less than the sum of the badges, because work the scorers share (the neighbour graph, "
                        "the out-of-fold fits) is counted once. Computed scorers (✓) load from the cache; cancel at "
                        "any point and keep what finished.",
                      help=ESTIMATE_HELP)
    else:
        right.caption("Already computed scorers (✓) load from the cache.")
