"""The comparison block: a selection's estimate beside the full data and random subsets.

One constructor for the record that the CLI prints, the app shows and manifests store. It only
calls the evaluator's ``full``, ``random``, ``folds``, ``seed``, ``fold_info_``, ``plain_folds``
and descriptions.

Besides the three estimates (each with its 95 % ``interval``, its ``worst_class`` and per-class
recall, see :mod:`core.evaluation.figures`), the block holds

* ``fold_rule``: how the folds were made (duplicate groups kept on one side, and how many);
* ``grouping``: the full-data figure on plain stratified folds beside the grouped one, and
  whether grouping moved it by more than its spread (``material``): copies on both sides of a
  fold count memorisation as accuracy;
* ``worst_class``: the selection's worst class beside random's and the full data's, and whether
  it falls more than its spread below random's (``below_random``);
* ``classes``: per class, the recall of the selection, random and the full data and the share of
  its rows kept; ``thinned_most`` names the classes kept least, relative to the whole subset.
"""

from __future__ import annotations

from typing import Optional

from core.evaluation.figures import INTERVAL_METHOD

THINNED_SHOWN = 3  # classes named in thinned_most


def comparison_block(evaluator, est, repeats: int = 5, *,
                     leak_free: Optional[bool], method: str = "") -> dict:
    """The selection's estimate beside the full data and random subsets of the same size."""
    full = evaluator.full()
    rand = evaluator.random(est.n_kept, repeats)
    model = evaluator.model_description
    worst = worst_class_block(est, rand, full)
    classes = class_rows(est, rand, full)
    thinned = thinned_most(classes, est.n_kept / max(est.n_input, 1))
    grouping = grouping_block(evaluator, full)
    return {
        "selection": est.to_dict(), "full": full.to_dict(), "random": rand.to_dict(),
        "vs_random": est.accuracy - rand.accuracy, "vs_full": est.accuracy - full.accuracy,
        "leak_free": leak_free, "method": method,
        "model": model, "budget": evaluator.budget_description,
        "folds": evaluator.folds, "seed": evaluator.seed,
        "fold_rule": evaluator.fold_info_, "grouping": grouping,
        "interval_method": INTERVAL_METHOD,
        "worst_class": worst, "classes": classes, "thinned_most": thinned,
        "summary": (f"{100 * est.accuracy:.1f}% ± {100 * est.std:.1f}{_interval_text(est)} with {est.n_kept} of "
                    f"{est.n_input} rows"
                    f"{'' if leak_free in (True, None) else ' (optimistic: scores saw the test labels)'}; "
                    f"random subsets of that size: {100 * rand.accuracy:.1f}% ± {100 * rand.std:.1f}; "
                    f"full data: {100 * full.accuracy:.1f}% ± {100 * full.std:.1f} "
                    f"({evaluator.folds}-fold CV, {model.split(' (')[0]})."
                    + _class_sentence(worst, thinned) + _grouping_sentence(grouping)),
    }


def class_comparison(est, rand, full) -> dict:
    """``worst_class``, ``classes`` and ``thinned_most`` of three estimates, as the block holds them.

    Computes nothing (the estimates carry per-class figures): a face can show them beside live figures.
    """
    classes = class_rows(est, rand, full)
    return {"worst_class": worst_class_block(est, rand, full), "classes": classes,
            "thinned_most": thinned_most(classes, est.n_kept / max(est.n_input, 1))}


def worst_class_block(est, rand, full) -> Optional[dict]:
    """The selection's worst class beside random's and the full data's (None without per-class figures)."""
    if est.worst_class is None or rand.worst_class is None:
        return None
    spread = est.worst_class_std or 0.0
    gap = est.worst_class_accuracy - rand.worst_class_accuracy
    return {
        "selection": {"class": est.worst_class, "accuracy": est.worst_class_accuracy, "std": spread},
        "random": {"class": rand.worst_class, "accuracy": rand.worst_class_accuracy, "std": rand.worst_class_std},
        "full": {"class": full.worst_class, "accuracy": full.worst_class_accuracy, "std": full.worst_class_std},
        "vs_random": gap, "below_random": bool(gap < -spread),
    }


def class_rows(est, rand, full) -> list:
    """Per class: recall of the selection, random and full data, and the share of its rows kept."""
    rows = []
    for name in est.per_class or {}:
        rows.append({"class": name, "recall": est.per_class.get(name), "random_recall": rand.per_class.get(name),
                     "full_recall": full.per_class.get(name), "kept_share": (est.kept_share or {}).get(name),
                     "random_kept_share": (rand.kept_share or {}).get(name)})
    return rows


def thinned_most(classes: list, overall: float, shown: int = THINNED_SHOWN) -> list:
    """The classes whose kept share is lowest, with that share over the whole subset's (below 1: thinned)."""
    known = [r for r in classes if r["kept_share"] is not None]
    known.sort(key=lambda r: r["kept_share"])
    return [{"class": r["class"], "kept_share": r["kept_share"],
             "relative": (r["kept_share"] / overall) if overall > 0 else None} for r in known[:shown]]


def grouping_block(evaluator, full) -> Optional[dict]:
    """The full-data figure on plain stratified folds beside the grouped one (None without copies)."""
    info = evaluator.fold_info_
    if not info.get("grouped") or not info.get("groups"):
        return None
    plain = evaluator.plain_folds().full()
    shift = full.accuracy - plain.accuracy
    return {"full_grouped": full.accuracy, "full_plain": plain.accuracy, "shift": shift,
            "spread": full.std, "material": bool(abs(shift) > full.std)}


def _interval_text(est) -> str:
    if not est.interval:
        return ""
    return f" (95% interval {100 * est.interval[0]:.1f}-{100 * est.interval[1]:.1f})"


def _class_sentence(worst: Optional[dict], thinned: list) -> str:
    if worst is None:
        return ""
    sel, rand = worst["selection"], worst["random"]
    text = (f" Worst class: {sel['class']} at {100 * sel['accuracy']:.1f}% ± {100 * sel['std']:.1f} "
            f"(random's worst: {rand['class']} at {100 * rand['accuracy']:.1f}%)")
    low = [t for t in thinned if t["relative"] is not None and t["relative"] < 0.9]
    if low:
        text += "; thinned most: " + ", ".join(f"{t['class']} ({100 * t['kept_share']:.0f}% kept)" for t in low)
    return text + "."


def _grouping_sentence(grouping: Optional[dict]) -> str:
    if not grouping or not grouping["material"]:
        return ""
    return (f" Keeping copies on one side of each fold moved the full-data figure by "
            f"{100 * grouping['shift']:+.1f} points (plain folds: {100 * grouping['full_plain']:.1f}%), "
            f"more than its spread.")
