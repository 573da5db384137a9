"""Tune's own target model: the user's scikit-learn classifier, named ``module:Class`` with JSON parameters.

The text goes through the CLI's one owner of that grammar (``--eval-model/--eval-params``:
:func:`core.evaluation.estimator_from_text`), so it is refused with the same one-line messages.
Naming a class imports its module, which runs code, so the operator decides who may
(:func:`workbench.settings.target_refusal`: any name on loopback, the ``WORKBENCH_TARGETS`` list
when the app is served).

Which figure is live, decided on this data set by background jobs of the compute plan:

- **the estimator itself** when one cross-validated estimate of it on the full data (the trial,
  :data:`TRIAL_JOB`) takes at most :data:`LIVE_SECONDS`: Tune's and Export's evaluator becomes it
  (:func:`live_evaluator`);
- otherwise **our built-in live figure**, with its rank agreement with the estimator measured here
  (:data:`AGREEMENT_JOB`: random and each scorer's two ends and CCS at keep 0.1 and 0.3, the same
  kept rows for both models; faithful from Spearman :data:`core.evaluation.FAITHFUL`, the lowest
  over the keeps). Below that, or before it is measured, the live figure is said to be unproven;
- beside it, **the exact figure** of the estimator for the current selection (:data:`EXACT_JOB`:
  the pruned subset, leak-free through the fold-wise scores, the full data and random subsets of
  the same size, on the same folds).

The manifest records the target (:func:`with_target`).
"""

from __future__ import annotations

import json
import time
from typing import Optional

import pandas as pd
import streamlit as st

import core
from core.evaluation import AGREEMENT_KEEPS, FAITHFUL, estimator_from_text, measure_agreement, panel_strategies
from core.evaluation import selection_estimate
from workbench import cards, estimates, jobs, settings, state, tuning

TRIAL_JOB, AGREEMENT_JOB, EXACT_JOB = "target_trial", "target_agreement", "target_exact"
#: A full-data estimate of the estimator at most this long: it is the live figure itself.
LIVE_SECONDS = 1.0
RANDOM_REPEATS = 3
EXAMPLE = "sklearn.ensemble:RandomForestClassifier"
ITSELF = "tune_target_itself"  # the user's choice: the slow estimator itself as the live figure


def current() -> Optional[dict]:
    """The session's own target (``{"text", "params", "estimator"}``), or None for the built-in model."""
    return state.get("own_target")


def use(text: str, params: str = "") -> Optional[str]:
    """Make ``module:Class`` with JSON ``params`` the session's target; the refusal message, or None."""
    text, params = str(text).strip(), str(params or "").strip()
    refusal = settings.target_refusal(text)  # before anything is imported
    if refusal is not None:
        return refusal
    try:
        estimator = estimator_from_text(text, params or None)
    except core.WorkbenchError as err:
        return str(err)
    target = {"text": text, "params": params or "{}", "estimator": estimator}
    for key in [k for k, v in _results().items() if k[2] == _ident(target) and v["status"] != "done"]:
        del _results()[key]  # naming it again retries what failed or was cancelled
    state.put("own_target", target)
    return None


def _ident(target: dict) -> tuple:
    return (target["text"], target["params"])


def _key(kind: str, ds, target: dict, *more) -> tuple:
    return (kind, ds.fingerprint, _ident(target), state.folds(), state.seed(), *more)


def _results() -> dict:
    return state.get("own_target_results")


def _own_evaluator(ds, target: dict):
    """The evaluator whose every estimate trains a fresh clone of the user's estimator (same folds)."""
    return state.memo("own_target_evaluator", _key("evaluator", ds, target), lambda: core.LiveEvaluator(
        ds, folds=state.folds(), seed=state.seed(), estimator=target["estimator"]))


def _store(job) -> None:
    """Every ending is kept (a failure is not retried on each rerun; "Measure again" clears it)."""
    _results()[job.context["key"]] = {"status": job.status, "result": job.result, "error": job.error}


def _done(entry: Optional[dict]):
    return entry["result"] if entry is not None and entry["status"] == "done" else None


def trial(ds, target: dict) -> Optional[dict]:
    """The trial's ending (``result`` = (seconds, full-data Estimate)); starts it when not run yet."""
    key = _key("trial", ds, target)
    if key in _results():
        return _results()[key]
    evaluator = _own_evaluator(ds, target)

    def work(job):
        start = time.perf_counter()
        full = evaluator.full(job.progress, job.cancel_event)
        return time.perf_counter() - start, full

    jobs.start(TRIAL_JOB, work, label=f"Timing {target['text']} on the full data", context={"key": key},
               on_done=_store, key=key, priority=jobs.AHEAD)
    return None


def is_fast(ds, target: dict) -> bool:
    """Whether the trial found one full-data estimate of the estimator quick enough for a slider."""
    found = _done(_results().get(_key("trial", ds, target)))
    return found is not None and found[0] <= LIVE_SECONDS


def itself(ds, target: dict) -> bool:
    """Whether the live figure is the estimator itself: it is fast, or the user chose it (a slow slider)."""
    if is_fast(ds, target):
        return True
    timed = _done(_results().get(_key("trial", ds, target)))
    return timed is not None and bool(state.widget(ITSELF, False))


def live_evaluator(ds, base):
    """The evaluator of the live figure: the user's estimator itself when it is fast (or chosen), else ``base``."""
    target = current()
    if target is None or not itself(ds, target):
        return base
    return _own_evaluator(ds, target)


def _panel_masks(ds, table, names, seed: int) -> dict:
    masks = {}
    for keep in AGREEMENT_KEEPS:
        for strategy in panel_strategies(names):
            try:
                masks[(keep, strategy)] = core.select(ds, table, strategy, keep=keep, seed=seed).mask
            except core.WorkbenchError:  # a scorer without that end: left out of the panel
                continue
    return masks


def agreement(ds, target: dict, base) -> Optional[dict]:
    """The rank agreement's ending (``result`` as :func:`core.evaluation.measure_agreement`); starts it."""
    table, names = state.scores(), state.score_columns()
    key = _key("agreement", ds, target, state.get("table_version"))
    if key in _results() or not names:
        return _results().get(key)
    background, estimator, seed = base.twin(), target["estimator"], state.seed()

    def work(job):
        masks = _panel_masks(ds, table, names, seed)
        return measure_agreement(background, estimator, masks, job.progress, job.cancel_event)

    jobs.start(AGREEMENT_JOB, work, label=f"Rank agreement with {target['text']}", context={"key": key},
               on_done=_store, key=key, priority=jobs.AHEAD)
    return None


def exact(ds, sel, target: dict, base) -> Optional[dict]:
    """The exact figures of the estimator for ``sel`` (pruned, full, random): its ending; starts it."""
    key = _key("exact", ds, target, tuning.identity(sel))
    if key in _results():
        return _results()[key]
    table = state.scores()
    fold_scores, fold_job = (None, None)
    if sel.resolved_recipe.reads_labels:
        fold_scores, fold_job = estimates.fold_scores_work(ds, table, base, priority=jobs.AHEAD)
    evaluator = _own_evaluator(ds, target).twin()  # its fits never make the live figure wait

    def work(job):
        scores_by_fold = job.dep(0) if fold_job is not None else fold_scores
        pruned, leak_free, _ = selection_estimate(ds, sel, scores=table, evaluator=evaluator,
                                                  fold_scores=scores_by_fold, cancel=job.cancel_event)
        job.progress(1, 3, "full data")
        full = evaluator.full(cancel=job.cancel_event)
        job.progress(2, 3, "random subsets of the same size")
        rand = evaluator.random(sel.n_kept, RANDOM_REPEATS, cancel=job.cancel_event)
        return {"Pruned": pruned, "Full data": full, "Random, same size": rand, "leak_free": leak_free}

    jobs.start(EXACT_JOB, work, label=f"Exact figure of {target['text']}", context={"key": key},
               on_done=_store, key=key, priority=jobs.AHEAD, deps=(fold_job,) if fold_job is not None else ())
    return None


def verdict(ds, target: dict, base) -> tuple:
    """``(kind, words)``: which figure is live for this target, and why (kind: estimator | faithful |
    unproven | measuring | failed)."""
    found = trial(ds, target)
    if found is None:
        return "measuring", f"Timing {target['text']} on the full data to decide which figure is live."
    if found["status"] == "failed":  # e.g. a parameter value the class accepts but its fit refuses
        return "failed", f"{target['text']} could not be trained on this data: {found['error']}"
    if itself(ds, target):
        chosen = "" if is_fast(ds, target) else ", as you chose (each move waits for it)"
        return "estimator", (f"The live figures above are {target['text']} itself{chosen}: one cross-validated "
                             f"estimate of it on the full data took {found['result'][0]:.2f} s (live on its own "
                             f"from {LIVE_SECONDS:g} s).")
    slow = (f"one estimate of it took {found['result'][0]:.1f} s" if found["status"] == "done"
            else f"its timing {found['status']}")
    measured = agreement(ds, target, base)
    result = _done(measured)
    if result is None:
        why = ("compute scores on the **Scores** page to measure it" if not state.score_columns() else
               "measuring it now" if measured is None else f"its measurement {measured['status']}")
        return "unproven", (f"The live figures above are our built-in model's ({slow}); whether they rank subsets "
                            f"as {target['text']} does is not proven yet: {why}.")
    words = (f"Spearman {result['spearman']:.2f}, Kendall {result['kendall']:.2f} over "
             f"{_strategies(result)} strategies at keep {' and '.join(f'{k:g}' for k in result['by_keep'])} "
             f"(the lowest over the keeps)")
    if result["faithful"]:
        return "faithful", (f"The live figures above are our built-in model's ({slow}), proven faithful to "
                            f"{target['text']} on this data: {words}.")
    return "unproven", (f"The live figures above are our built-in model's ({slow}) and are **unproven** for "
                        f"{target['text']}: {words}, below {FAITHFUL:g}. Trust its exact figure below.")


def reading_verdict(ds, sel, base, found, *, is_random: bool):
    """The verdict Tune draws: from the live reading when it is the user's target itself or proven
    faithful to it (or no own target is named); else from the estimator's own exact figures once they
    are in, and none before (an unproven figure never decides for the user's model)."""
    target = current()
    plain = cards.reading_verdict(found, is_random=is_random, n_kept=sel.n_kept)
    if target is None:
        return plain
    kind, _ = verdict(ds, target, base)
    if kind in ("estimator", "faithful", "failed"):
        return plain
    figures = _done(exact(ds, sel, target, base))
    if figures is None:
        return cards.Verdict("neutral", f"No verdict for {target['text']} yet: the live figures above are our "
                                        "built-in model's and unproven for it; its exact figures are being "
                                        "computed below.", False)
    own = estimates.Reading(figures["Pruned"], bool(figures["leak_free"]), figures["Full data"],
                            figures["Random, same size"], "exact")
    drawn = cards.reading_verdict(own, is_random=is_random, n_kept=sel.n_kept)
    return cards.Verdict(drawn.level, f"For {target['text']} (its exact figures below): {drawn.text}",
                         drawn.warn_export)


def _strategies(result: dict) -> int:
    return len({row["strategy"] for row in result["rows"]})


def table(found, figures: dict) -> pd.DataFrame:
    """The live figures beside the estimator's exact ones."""
    live = {"Pruned": found.pruned, "Full data": found.full, "Random, same size": found.random}
    rows = []
    for name, est in figures.items():
        if name == "leak_free":
            continue
        ours = live.get(name)
        rows.append({"": name, "live figure (above)": "…" if ours is None else f"{ours.accuracy:.1%}",
                     "your estimator (exact)": f"{est.accuracy:.1%}", "spread": f"±{100 * est.std:.1f} pts",
                     "rows kept": f"{est.n_kept:,} of {est.n_input:,}"})
    return pd.DataFrame(rows).set_index("")


def record(ds, sel) -> Optional[dict]:
    """What a manifest records of the session's own target (None with the built-in model)."""
    target = current()
    if target is None:
        return None
    fast = itself(ds, target)
    found = _done(_results().get(_key("agreement", ds, target, state.get("table_version"))))
    figures = _done(_results().get(_key("exact", ds, target, tuning.identity(sel))))
    live = ("the estimator itself" if fast else "built-in, proven faithful" if found and found["faithful"]
            else "built-in, unproven for this estimator")
    return {
        "model": target["text"], "params": json.loads(target["params"]),
        "description": _own_evaluator(ds, target).model_description,
        "live_figure": live,
        "agreement": None if found is None or fast else {
            "spearman": found["spearman"], "kendall": found["kendall"], "faithful": found["faithful"],
            "strategies": _strategies(found), "keeps": list(found["by_keep"])},
        "exact": None if figures is None else {
            name: est.to_dict() for name, est in figures.items() if name != "leak_free"},
        "exact_leak_free": None if figures is None else bool(figures["leak_free"]),
    }


def with_target(block: Optional[dict], ds, sel) -> Optional[dict]:
    """The manifest's comparison block with the own target recorded (``target``); unchanged without one."""
    target = None if block is None else record(ds, sel)
    return block if target is None else dict(block, target=target)


def _form() -> None:
    target = current()
    a, b = st.columns([3, 2])
    state.sticky("tune_target_text", "")
    state.sticky("tune_target_params", "")
    text = state.remember("tune_target_text", a.text_input(
        "Target model (module:Class)", key="tune_target_text", placeholder=EXAMPLE,
        help="Any scikit-learn classifier or pipeline you can import, as for the CLI's --eval-model."))
    params = state.remember("tune_target_params", b.text_input(
        "Parameters (a JSON object)", key="tune_target_params", placeholder='{"n_estimators": 200}'))
    left, right = st.columns(2)
    if left.button("Use as the target model", key="tune_target_use", icon=":material/model_training:"):
        refusal = use(text, params)
        if refusal is not None:
            st.error(refusal, icon=":material/error:")
    if target is not None and right.button("Back to the built-in model", key="tune_target_clear"):
        state.put("own_target", None)
        st.rerun()


def render(ds, sel, base, live) -> None:
    """The own-target section of Tune: the form, which figure is live and the estimator's exact figure."""
    st.subheader("Your own target model")
    if not settings.targets_offered():
        st.info("Naming your own target model is off here: this app is served to others, and naming a module "
                "imports it, which runs code on the server. The operator can allow chosen models with "
                "WORKBENCH_TARGETS (README, Serving the app).", icon=":material/lock:")
        return
    _form()
    target = current()
    if target is None:
        st.caption("The live figures use our built-in model. Name your own classifier to see its exact figure "
                   "beside them and whether ours ranks subsets as it does.")
        return
    kind, words = verdict(ds, target, base)
    if kind == "failed":
        st.error(words, icon=":material/error:")
        return
    (st.success if kind in ("estimator", "faithful") else st.info)(words, icon=":material/target:")
    timed = _done(_results().get(_key("trial", ds, target)))
    if timed is not None and not is_fast(ds, target):
        state.sticky(ITSELF, False)
        state.remember(ITSELF, st.checkbox(
            f"Use {target['text']} itself for the live figures (about {timed[0]:.0f} s per move)", key=ITSELF,
            help="Every figure above (the pruned subset, the full data, random of the same size) then trains "
                 "your estimator; the slider waits for it."))
    for name in (TRIAL_JOB, AGREEMENT_JOB):
        jobs.panel(name)
    if sel is None or kind in ("estimator", "measuring"):  # the trial first proves the estimator trains here
        return
    found = exact(ds, sel, target, base)
    jobs.panel(EXACT_JOB)
    if _done(found) is not None:
        figures = found["result"]
        current_reading = estimates.reading(ds, sel, state.scores(), live)
        st.dataframe(table(current_reading, figures), width="stretch")
        if not figures["leak_free"]:
            st.caption("The estimator's pruned figure is optimistic: these scores cannot be refit per fold.")
    if st.button("Measure again", key="tune_target_again", icon=":material/refresh:"):
        for key in [k for k in _results() if k[2] == _ident(target)]:
            del _results()[key]
        st.rerun()
