"""The comparison cards and the verdict shared by Tune, Export and the stakeholder summary.

One rule for every signed number: the text starts with its sign (``+1.2 pts`` / ``-7.0 pts``), so
Streamlit's arrow and colour follow the sign; numbers that carry no direction show no arrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import streamlit as st

import core


@dataclass(frozen=True)
class Verdict:
    """How a selection compares with random pruning of its size and with the full data."""

    level: str  # "good" | "neutral" | "bad"
    text: str
    warn_export: bool


_MARKDOWN = set("\\`*_{}[]()<>#+-.!|~$:")


def literal(text: str) -> str:
    """``text`` (a file name, a column name: the user's words) escaped so Markdown shows it as typed: a file
    named ``[click](http://x)`` is not a link."""
    return "".join("\\" + ch if ch in _MARKDOWN else ch for ch in str(text))


def verdict(block: dict, *, is_random: bool = False) -> Verdict:
    """The verdict of a final comparison block; whether a subset loses is ``core.estimate_warning``'s rule.

    ``is_random``: the selection is itself a random draw, so it can only differ from the mean of
    random draws by chance, and the verdict says so instead of comparing the two. A block that is not
    final (optimistic, or random of another size) goes through :func:`reading_verdict` instead.
    """
    sel, rand = block["selection"], block["random"]
    gap, spread = 100 * (sel["accuracy"] - rand["accuracy"]), 100 * max(sel["std"], rand["std"])
    warning = core.estimate_warning(block)
    if warning:
        return Verdict("bad", warning, True)
    if is_random:
        return Verdict("neutral", f"Random pruning is the baseline: this selection is one random draw, the Random "
                                  f"card the mean of several, so they differ by chance only ({gap:+.1f} points; "
                                  f"spread ±{spread:.1f}).", False)
    if gap > spread:
        return Verdict("good", f"This subset beats random pruning of the same size ({gap:+.1f} points; "
                               f"spread ±{spread:.1f}).", False)
    return Verdict("neutral", f"This subset is within the spread of random pruning of the same size "
                              f"({gap:+.1f} points; spread ±{spread:.1f}).", False)


def show_verdict(found: Verdict, *, exporting: bool = False) -> None:
    """The verdict as a coloured box; before an export a losing subset gets a plain warning."""
    if found.level == "bad":
        lead = "**Think twice before exporting.** " if exporting else ""
        st.warning(lead + found.text, icon=":material/warning:")
    elif found.level == "good":
        st.success(found.text, icon=":material/check_circle:")
    else:
        st.info(found.text, icon=":material/info:")


def comparison_cards(row, ds, sel, pruned, full, rand, *, repeats: int = 5, leak_free: bool = True,
                     random_state: str = "exact") -> None:
    """Five cards in ``row``: pruned, full data, random of the same size, rows kept, training time.

    ``leak_free=False`` marks the pruned figure optimistic; ``random_state`` says what the Random card
    holds (see :class:`workbench.estimates.Reading`). Arrows and colours show only on final figures.
    """
    final = leak_free and random_state == "exact"
    m = row.columns(5)
    m[0].metric(f"Pruned · ±{100 * pruned.std:.1f}" if leak_free else "Pruned · optimistic", f"{pruned.accuracy:.1%}",
                f"{100 * (pruned.accuracy - full.accuracy):+.1f} pts vs full data", border=True,
                delta_color="normal" if leak_free else "off", delta_arrow="auto" if leak_free else "off",
                help=None if leak_free else "Optimistic: scores computed on all rows chose these training rows, so "
                "they saw the held-out folds' labels. The leak-free figure replaces this one when its fold-wise "
                "scores are ready; until then no verdict is drawn.")
    m[1].metric(f"Full data · ±{100 * full.std:.1f}", f"{full.accuracy:.1%}", f"all {ds.n_samples:,} rows",
                delta_color="off", delta_arrow="off", border=True)
    _random_card(m[2], sel, pruned, rand, repeats, random_state, final)
    m[3].metric("Rows kept", f"{sel.n_kept:,}", f"{sel.n_kept / ds.n_samples:.0%} of {ds.n_samples:,}",
                delta_color="off", delta_arrow="off", border=True)
    saving = 1.0 - sel.n_kept / max(ds.n_samples, 1)
    m[4].metric("Training time", f"{-saving:+.0%}" if saving else "0%", "estimated, rows × cost",
                delta_color="off", delta_arrow="off", border=True,
                help="Assumes training cost grows linearly with the number of rows.")


def _random_card(cell, sel, pruned, rand, repeats: int, random_state: str, final: bool) -> None:
    colour = {"delta_color": "normal" if final else "off", "delta_arrow": "auto" if final else "off"}
    if rand is None:  # the first reference of a large data set, computed in the background
        cell.metric("Random · computing", "…", f"{sel.n_kept:,} rows, background job", delta_color="off",
                    delta_arrow="off", border=True,
                    help=f"Random subsets of {sel.n_kept:,} rows on the same folds ({repeats} draws); the figure "
                         "appears when its background job ends.")
    elif random_state == "interpolated":
        cell.metric("Random · interpolated", f"{rand.accuracy:.1%}", f"{sel.n_kept:,} rows · exact follows",
                    delta_color="off", delta_arrow="off", border=True,
                    help=f"Random pruning at {sel.n_kept:,} rows read from the random curve (random subsets at a few "
                         "sizes on the same folds, interpolated in between). The exact reference of this size, "
                         f"{repeats} draws, replaces it when its background job ends; no verdict until then.")
    elif random_state == "nearest":
        cell.metric(f"Random · {rand.n_kept:,} rows · updating", f"{rand.accuracy:.1%}",
                    f"another size ({rand.n_kept:,} rows)", delta_color="off", delta_arrow="off", border=True,
                    help=f"Random subsets of {rand.n_kept:,} rows, the nearest size computed so far; the reference "
                         f"of {sel.n_kept:,} rows replaces it when its background job ends.")
    elif sel.resolved_strategy == "random":
        cell.metric(f"Random · ±{100 * rand.std:.1f}", f"{rand.accuracy:.1%}", f"mean of {repeats} draws",
                    delta_color="off", delta_arrow="off", border=True,
                    help=f"Your selection is one random draw (seed {sel.seed}); this card averages {repeats} "
                         "draws of the same size on the same folds, so the two differ by chance only.")
    else:
        cell.metric(f"Random · ±{100 * rand.std:.1f}", f"{rand.accuracy:.1%}",
                    f"{100 * (pruned.accuracy - rand.accuracy):+.1f} pts pruned", border=True, **colour,
                    help=f"Random subsets with as many rows as the selection, on the same folds ({repeats} draws); "
                         "the arrow says how the pruned subset compares with them.")


def reading_verdict(found, *, is_random: bool, n_kept: int) -> Verdict:
    """The verdict of a :class:`workbench.estimates.Reading`: drawn only when the reading is final."""
    if not found.leak_free:
        if found.honest_coming:
            when = f"in about {found.honest_in:.0f} s" if found.honest_in is not None else "as soon as it is ready"
            return Verdict("neutral", "No verdict yet: the pruned figure is optimistic (the scores that chose its "
                                      "training rows saw the held-out labels). The honest, leak-free figure "
                                      f"replaces it {when}, here and on Export.", False)
        return Verdict("neutral", "No verdict: the pruned figure is optimistic (its scores saw the held-out "
                                  "labels and cannot be recomputed per fold here).", False)
    if found.random is None or found.random_state != "exact":
        rand = found.random
        meanwhile = "" if rand is None else (
            f" Meanwhile random pruning reads {rand.accuracy:.1%} "
            + ("(interpolated from the random curve)" if found.random_state == "interpolated"
               else f"at another size, {rand.n_kept:,} rows") + ".")
        return Verdict("neutral", f"The random reference of {n_kept:,} rows is being computed; the comparison "
                                  f"follows.{meanwhile}", False)
    return verdict(found.block(), is_random=is_random)


def status_line(found) -> Optional[str]:
    """The one full-width line that says what is not final yet (None when everything is)."""
    if not found.leak_free and found.honest_coming:
        when = f"about {found.honest_in:.0f} s" if found.honest_in is not None else "a moment"
        return f"Pruned figure: optimistic — honest (leak-free) figure in {when}."
    if not found.leak_free:
        return "Pruned figure: optimistic (scores from a file cannot be recomputed per fold)."
    if found.random_state == "interpolated":
        return "Random figure: interpolated from the random curve — the exact reference of this size follows."
    return None


def chart_labels(found) -> dict:
    """The accuracy chart's bar names for a reading: what each bar holds when it is not final."""
    random_label = {"exact": "Random, same size", "interpolated": "Random, interpolated",
                    "nearest": f"Random, {getattr(found.random, 'n_kept', 0):,} rows (another size)"}
    return {"random_label": random_label.get(found.random_state, "Random"),
            "pruned_label": "Pruned" if found.leak_free else "Pruned (optimistic)"}


def detail_line(found) -> Optional[str]:
    """The 95 % interval, the worst class beside random's and the classes thinned most (final figures only)."""
    if not found.final:
        return None
    block, parts = found.block(), []
    interval = getattr(found.pruned, "interval", None)
    if interval:
        parts.append(f"95% interval {100 * interval[0]:.1f}–{100 * interval[1]:.1f}%")
    worst = block.get("worst_class")
    if worst:
        mine, theirs = worst["selection"], worst["random"]
        parts.append(f"worst class **{mine['class']}** {100 * mine['accuracy']:.1f}% (random's worst: "
                     f"{theirs['class']} {100 * theirs['accuracy']:.1f}%)")
    thinned = [t for t in block.get("thinned_most") or () if t.get("relative") is not None and t["relative"] < 0.9]
    if thinned:
        parts.append("thinned most: " + ", ".join(f"{t['class']} ({100 * t['kept_share']:.0f}% of its rows kept)"
                                                  for t in thinned))
    return " · ".join(parts) or None
