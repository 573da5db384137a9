"""The comparison cards and the verdict shared by Tune, Export and the stakeholder summary.

One rule for every signed number: the text starts with its sign (``+1.2 pts`` / ``-7.0 pts``), so
Streamlit's arrow and colour follow the sign; numbers that carry no direction show no arrow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

FAR_BELOW_FULL = 0.02  # a subset more than 2 points (and beyond the spread) under the full data is "far below"


@dataclass(frozen=True)
class Verdict:
    """How a selection compares with random pruning of its size and with the full data."""

    level: str  # "good" | "neutral" | "bad"
    text: str
    vs_random: float  # points
    vs_full: float  # points
    spread_random: float  # points
    warn_export: bool


def verdict(pruned, full, rand) -> Verdict:
    """Compare estimates (``accuracy``, ``std``) of the selection, the full data and random subsets."""
    gap_random, gap_full = 100 * (pruned.accuracy - rand.accuracy), 100 * (pruned.accuracy - full.accuracy)
    spread_random = 100 * float(np.hypot(pruned.std, rand.std))
    spread_full = 100 * float(np.hypot(pruned.std, full.std))
    loses = gap_random < -spread_random
    far_below = gap_full < -max(100 * FAR_BELOW_FULL, spread_full)
    if loses:
        text = (f"This subset is worse than random pruning of the same size ({gap_random:+.1f} points, beyond the "
                f"spread of ±{spread_random:.1f}). A random subset of this size would serve you better.")
    elif gap_random > spread_random:
        text = f"This subset beats random pruning of the same size ({gap_random:+.1f} points; spread ±{spread_random:.1f})."
    else:
        text = (f"This subset is within the spread of random pruning of the same size ({gap_random:+.1f} points; "
                f"spread ±{spread_random:.1f}).")
    if far_below:
        text += f" It is {abs(gap_full):.1f} points below the full data."
    level = "bad" if loses or far_below else "good" if gap_random > spread_random else "neutral"
    return Verdict(level, text, gap_random, gap_full, spread_random, loses or far_below)


def show_verdict(found: Verdict, *, exporting: bool = False) -> None:
    """The verdict as a coloured box; before an export a losing subset gets a plain warning."""
    if found.level == "bad":
        lead = "**Think twice before exporting.** " if exporting else ""
        st.warning(lead + found.text, icon=":material/warning:")
    elif found.level == "good":
        st.success(found.text, icon=":material/check_circle:")
    else:
        st.info(found.text, icon=":material/info:")


def comparison_cards(row, ds, sel, pruned, full, rand, *, repeats: int = 5) -> None:
    """Four cards in ``row`` (five columns): pruned, full data, random of the same size, rows kept."""
    m = row.columns(5)
    m[0].metric(f"Pruned · ±{100 * pruned.std:.1f}", f"{pruned.accuracy:.1%}",
                f"{100 * (pruned.accuracy - full.accuracy):+.1f} pts vs full data", border=True)
    m[1].metric(f"Full data · ±{100 * full.std:.1f}", f"{full.accuracy:.1%}", f"all {ds.n_samples:,} rows",
                delta_color="off", delta_arrow="off", border=True)
    if sel.resolved_strategy == "random":
        m[2].metric(f"Random · ±{100 * rand.std:.1f}", f"{rand.accuracy:.1%}", f"mean of {repeats} draws",
                    delta_color="off", delta_arrow="off", border=True,
                    help=f"Your selection is one random draw (seed {sel.seed}); this card averages {repeats} "
                         "draws of the same size on the same folds, so the two differ by chance only.")
    else:
        m[2].metric(f"Random · ±{100 * rand.std:.1f}", f"{rand.accuracy:.1%}",
                    f"{100 * (pruned.accuracy - rand.accuracy):+.1f} pts: pruned vs random", border=True,
                    help=f"Random subsets with as many rows as the selection, on the same folds ({repeats} draws).")
    m[3].metric("Rows kept", f"{sel.n_kept:,}", f"{sel.n_kept / ds.n_samples:.0%} of {ds.n_samples:,}",
                delta_color="off", delta_arrow="off", border=True)
    saving = 1.0 - sel.n_kept / max(ds.n_samples, 1)
    m[4].metric("Training time", f"{-saving:+.0%}" if saving else "0%", "estimated, rows × cost",
                delta_color="off", delta_arrow="off", border=True,
                help="Assumes training cost grows linearly with the number of rows.")
