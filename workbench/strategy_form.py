"""The Tune page's strategy form, drawn from the strategy registry (``core.selection``).

The registry owns the grammar: which kinds exist, their titles and help, what each targets (no
scorer, one scorer, flagging scorers, weighted terms), its options and its budget rule. This
module only turns those declarations into widgets and the widgets back into a strategy string,
which the grammar then canonicalises; it keeps no list of kinds of its own.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
import streamlit as st

import core
from core.foundation import for_app
from core.selection import QUOTA_MODES, format_strategy, parse_strategy, strategy_kinds
from workbench import resources, state

BUDGET_MODES = {"keep": ["Keep fraction"], "keep-or-threshold": ["Keep fraction", "Threshold"],
                "optional-keep": ["Its own options", "Keep fraction"], "none": ["Decided by the strategy"]}


def available_kinds(names: list, flaggers: list) -> list:
    """Registered kinds that can run on the computed scores (searched kinds have their own button)."""
    usable = {"none": True, "scorer-or-random": True, "scorer": bool(names), "bare-scorer": bool(names),
              "flagging-scorers": bool(flaggers), "terms": len(names) >= 2}
    return [k for k in strategy_kinds() if not k.searched and usable.get(k.target, False)]


def strategy_text(kind, *, scorer: Optional[str] = None, end: Optional[str] = None, options: Optional[dict] = None,
                  flaggers: Optional[list] = None, weights: Optional[dict] = None) -> str:
    """The canonical strategy string of the widgets' choices (the grammar formats it)."""
    suffix = f":{end}" if end else ""
    if kind.target == "none":
        text = kind.name
    elif kind.target == "bare-scorer":
        text = f"{scorer}{suffix}"
    elif kind.target == "flagging-scorers":
        text = f"{kind.name}:{','.join(flaggers or [])}"
    elif kind.target == "terms":
        text = f"{kind.name}:" + ",".join(f"{n}={w:g}" for n, w in (weights or {}).items() if w > 0)
    else:
        text = f"{kind.name}:{scorer or 'random'}{suffix if scorer else ''}"
    text += "".join(f":{key}={value}" for key, value in (options or {}).items() if value is not None)
    return format_strategy(parse_strategy(text))


def _target(kind, names: list, flaggers: list) -> dict:
    chosen: dict = {}
    if kind.target in ("scorer", "bare-scorer", "scorer-or-random"):
        choices = (["random"] if kind.target == "scorer-or-random" else []) + names
        state.sticky("tune_scorer", choices[0], choices)
        scorer = state.remember("tune_scorer", st.selectbox("Score", choices, key="tune_scorer"))
        meta = resources.scorer_meta(scorer) or {}
        if meta:
            st.caption(f"Higher means {meta.get('higher_means', '?')}; a default pruning keeps the "
                       f"{meta.get('keep', 'high')} end.")
        chosen["scorer"] = None if scorer == "random" else scorer
        if kind.takes_end and chosen["scorer"]:
            ends = ["default", "high", "low"]
            state.sticky("tune_end", "default", ends)
            end = state.remember("tune_end", st.radio(
                "Keep which end", ends, key="tune_end", horizontal=True,
                format_func=lambda e: f"default ({meta.get('keep', '?')})" if e == "default" else e))
            chosen["end"] = None if end == "default" else end
    elif kind.target == "flagging-scorers":
        state.sticky("tune_flaggers", flaggers)
        picked = st.multiselect("Drop rows flagged by", flaggers, key="tune_flaggers")
        chosen["flaggers"] = state.remember("tune_flaggers", [f for f in picked if f in flaggers]) or flaggers
    elif kind.target == "terms":
        st.caption("Weight of each score's rank percentile (0 leaves it out); each is oriented by its default end.")
        weights, grid = {}, st.columns(2)
        for i, name in enumerate(names):
            state.sticky(f"tune_weight_{name}", 1.0)
            weights[name] = state.remember(f"tune_weight_{name}", grid[i % 2].slider(
                name, 0.0, 3.0, step=0.25, key=f"tune_weight_{name}"))
        chosen["weights"] = weights if any(w > 0 for w in weights.values()) else {names[0]: 1.0}
    return chosen


def _options(kind) -> dict:
    values = {}
    for name, option in kind.options.items():
        key = f"tune_option_{kind.name}_{name}"
        if option.choices:
            values[name] = _choice(key, name, option)
            continue
        if option.default is None:
            continue  # no default to offer: the grammar documents the option
        if option.type is str:  # a free value (window's start: auto or 0..1): the grammar checks what is typed
            state.sticky(key, str(option.default))
            typed = st.text_input(name, key=key, help=option.help)
            values[name] = state.remember(key, typed).strip() or str(option.default)
            continue
        state.sticky(key, option.default)
        widget = st.number_input(f"{name}", key=key, help=option.help,
                                 step=0.05 if option.type is float else 1, format="%g" if option.type is float else "%d")
        values[name] = state.remember(key, option.type(widget))
    return values


def _choice(key: str, name: str, option):
    """A select box over an option's choices, its help written under it; "default" leaves the kind's
    own default (a None value would show as an empty "Choose an option" box)."""
    offered = (["default"] if option.default is None else []) + list(option.choices)
    state.sticky(key, "default" if option.default is None else option.default, offered)
    widget = st.selectbox(name.capitalize(), offered, key=key, help=option.help)
    if option.help:
        st.caption(option.help[0].upper() + option.help[1:] + ".")
    value = state.remember(key, widget)
    return None if value == "default" else value


def controls(names: list, flaggers: list, aligned: Optional[pd.DataFrame]) -> tuple[str, dict]:
    """Draw the strategy widgets; return the strategy string and ``{"keep": ..., "threshold": ...}``.

    Parameters
    ----------
    names : list of str
        Computed score columns.
    flaggers : list of str
        Scorers with a flag column.
    aligned : DataFrame or None
        Scores in the data set's row order (the threshold slider's range).
    """
    kinds = {k.name: k for k in available_kinds(names, flaggers)}
    state.sticky("tune_kind", "random", list(kinds))
    kind = kinds[state.remember("tune_kind", st.selectbox(
        "Strategy", list(kinds), key="tune_kind", format_func=lambda n: kinds[n].title,
        help="\n\n".join(f"**{k.title}** — {k.help}" for k in kinds.values())))]
    st.caption(kind.help)
    chosen = _target(kind, names, flaggers)
    try:
        strategy = strategy_text(kind, options=_options(kind), **chosen)
    except core.WorkbenchError as err:  # an option out of its range: say so here, keep the rest of the session
        st.error(for_app(err), icon=":material/error:")
        state.end_page()
    modes = BUDGET_MODES[kind.budget]
    state.sticky("tune_budget", modes[0], modes)
    mode = state.remember("tune_budget", st.radio("Budget", modes, key="tune_budget", horizontal=True)
                          if len(modes) > 1 else modes[0])
    if mode == "Threshold":
        return strategy, {"keep": None, "threshold": _threshold(chosen["scorer"], chosen.get("end"), aligned)}
    if mode != "Keep fraction":
        st.caption("This strategy decides itself how many rows go: there is no keep fraction.")
        return strategy, {"keep": None, "threshold": None}
    state.sticky("tune_keep", int(round(100 * (state.recipe_now().get("keep") or 0.7))))
    keep_pct = state.remember("tune_keep", st.slider("Keep fraction", 1, 100, step=1, format="%d%%", key="tune_keep",
                                                     help="Share of rows kept (before forced rows from the Map)."))
    quota = _quota() if kind.budget in ("keep", "keep-or-threshold") else ""  # the grammar's rule for quotas
    return strategy + quota, {"keep": keep_pct / 100, "threshold": None}


QUOTA_HELP = ("How many rows each class keeps. None: as the strategy picks. Proportional: every class keeps the "
              "same share. Equal: the same number of rows per class. DRoP: more rows for the classes a model "
              "gets wrong most often (measured without the held-out folds' labels). Within each class the "
              "strategy's own order picks the rows.")


def _quota() -> str:
    """The class-quota modifier a keep-fraction strategy takes (``:quota=<mode>``, or nothing)."""
    offered = ["none", *QUOTA_MODES]
    state.sticky("tune_quota", "none", offered)
    chosen = state.remember("tune_quota", st.selectbox(
        "Class quotas", offered, key="tune_quota", help=QUOTA_HELP,
        format_func=lambda m: {"none": "None (the strategy decides)", "drop": "DRoP (by per-class error)"}.get(
            m, m.capitalize())))
    return "" if chosen == "none" else f":quota={chosen}"


def _threshold(scorer: str, end: Optional[str], aligned: pd.DataFrame) -> float:
    values = pd.to_numeric(aligned[scorer], errors="coerce").to_numpy(float)
    finite = values[np.isfinite(values)]
    low, high = float(finite.min()), float(finite.max())
    high = high if high > low else low + 1e-6
    end = end or (resources.scorer_meta(scorer) or {}).get("keep", "high")
    key = f"tune_threshold_{scorer}"
    keep_now = state.recipe_now().get("keep") or 0.7
    state.sticky(key, float(np.quantile(finite, 1 - keep_now if end == "high" else keep_now)))
    state.set_widget(key, float(min(max(state.widget(key), low), high)))  # a new score table moves the range
    return float(state.remember(key, st.slider(f"Keep rows with {scorer} {'≥' if end == 'high' else '≤'}", low, high,
                                               step=(high - low) / 200, key=key, format="%.4g")))


def widgets_from_strategy(strategy: str, score_columns: list) -> dict:
    """Tune widget values that rebuild ``strategy`` (used to apply auto's recommendation)."""
    spec = parse_strategy(strategy, score_columns)
    values: dict = {"tune_kind": spec.kind}
    if spec.info.target == "flagging-scorers":  # the registry's target, never the kind's name
        values["tune_flaggers"] = list(spec.scorers)
    elif spec.info.target == "terms":
        values.update({f"tune_weight_{n}": 0.0 for n in score_columns})
        values.update({f"tune_weight_{n}": float(w) for n, w in zip(spec.scorers, spec.weights)})
    elif spec.scorers:
        values["tune_scorer"] = spec.scorers[0]
    elif spec.info.target == "scorer-or-random":
        values["tune_scorer"] = "random"
    values["tune_end"] = spec.end or "default"
    values["tune_quota"] = spec.quota or "none"
    for name, value in spec.options:
        option = spec.info.options.get(name)
        if option is not None and (option.choices or option.default is not None):
            values[f"tune_option_{spec.kind}_{name}"] = str(value) if option.type is str and not option.choices else value
    return values
