"""Strategy strings: the grammar, the parser and the one rule for which end of a score is kept.

Grammar (``:`` separates parts, options are ``key=value``)::

    random                                    uniform random subset
    <scorer>  |  <scorer>:high  |  <scorer>:low
                                              top rows by one score; the bare name keeps the
                                              scorer's default end (its ``keep`` metadata)
    ccs:<scorer>[:beta=0.1][:bins=50][:hard=high|low]
                                              coverage-centric coreset selection
    balanced:<scorer|random>[:high|:low][:mode=proportional|equal]
                                              class quotas, top (or random) rows within a class
    band:<scorer>[:low=0.05][:high=0.05]      drop both tails of one score
    drop-flagged[:<scorer>[,<scorer>...]]     drop flagged rows (duplicates keep one per group)
    dedupe                                    same as drop-flagged:duplicate
    scorecard:<s1>[:high|:low][=w1],<s2>...   weighted mean of rank percentiles
    kcenter | kmeans-diversity | facility-location
                                              coresets on the feature matrix (no scores)
    auto                                      chosen by cross-validation (see core.auto)

The one rule for which end is kept: a scorer's ``keep`` ("high" or "low") is the end a default
pruning keeps; ``:high``/``:low`` override it. CCS prunes its ``beta`` fraction from the *hard* end,
where mislabeled and ambiguous rows collect: for difficulty scores that keep the hard end
(EL2N, loss, forgetting, low margin...) it is the end ``keep`` points at, the end top-k would
concentrate on; for scores that keep the clean end (the flagging scorers label_noise, duplicate,
outlier and AUM, plus data-map confidence and kNN-Shapley) it is the opposite end. Every scorer
declares that end as its ``hard`` metadata; ``:hard=high|low`` overrides it. Scorecards orient
each scorer by its ``keep``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import pandas as pd

from core.foundation.errors import ConfigError

COMPOUND = ("ccs", "balanced", "band", "drop-flagged", "scorecard")
CORESETS = ("kcenter", "kmeans-diversity", "facility-location")
_OPTIONS = {
    "ccs": {"beta": float, "bins": int, "hard": str},
    "balanced": {"mode": str},
    "band": {"low": float, "high": float},
    "drop-flagged": {},
}


# ----------------------------------------------------------------------------- scorer metadata


def scorer_info(name: str) -> Optional[dict]:
    """Registry metadata of a scorer (``keep``, ``flags``, ``hard``), or None if unregistered."""
    try:
        from core.scorers import get_scorer
        cls = get_scorer(name)
    except Exception:  # an unregistered column is allowed with an explicit end
        return None
    return {"keep": getattr(cls, "keep", None), "flags": bool(getattr(cls, "flags", False)),
            "hard": getattr(cls, "hard", None)}


def default_end(name: str) -> str:
    info = scorer_info(name)
    if info is None or info["keep"] not in ("high", "low"):
        raise ConfigError(
            f"'{name}' is not a registered scorer, so its default end is unknown; "
            f"write '{name}:high' or '{name}:low' to say which end to keep."
        )
    return info["keep"]


def ccs_hard_end(name: str) -> str:
    """The end CCS prunes first (see the module docstring for the rule)."""
    default_end(name)  # an unregistered column says which end to keep, and has no declared hard end
    return scorer_info(name)["hard"]


# ----------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class StrategySpec:
    """A parsed strategy string."""

    kind: str  # random | top | ccs | balanced | band | drop-flagged | scorecard | coreset name | auto
    scorers: tuple = ()
    end: Optional[str] = None
    options: tuple = ()  # sorted (key, value) pairs
    weights: tuple = ()
    ends: tuple = ()

    @property
    def option(self) -> dict:
        return dict(self.options)


def _strategy_error(text: str, why: str) -> ConfigError:
    return ConfigError(
        f"Strategy '{text}' is not valid: {why}. Valid forms: random, <scorer>[:high|:low], "
        "ccs:<scorer>[:beta=0.1], balanced:<scorer>[:mode=proportional|equal], "
        "band:<scorer>[:low=0.05:high=0.05], drop-flagged:<scorer>, scorecard:<s1>=w1,<s2>=w2, "
        "kcenter, kmeans-diversity, facility-location, auto."
    )


def parse_strategy(text: str, score_columns) -> StrategySpec:
    """Parse a strategy string against the available score columns (raises ConfigError)."""
    if not isinstance(text, str) or not text.strip():
        raise _strategy_error(str(text), "it is empty")
    text = text.strip()
    columns = list(score_columns)

    def need_column(name: str) -> str:
        if name not in columns:
            available = ", ".join(c for c in columns if not _is_aux(c, columns)) or "none"
            raise _strategy_error(text, f"no score column '{name}' (computed scores: {available})")
        return name

    if text in ("random", "auto") or text in CORESETS:
        return StrategySpec(kind=text)
    if text == "dedupe":
        text = "drop-flagged:duplicate"
    head, _, rest = text.partition(":")
    if head not in COMPOUND:
        if rest not in ("", "high", "low"):
            raise _strategy_error(text, f"'{rest}' is not an end; use high or low")
        return StrategySpec(kind="top", scorers=(need_column(head),), end=rest or None)
    if head == "scorecard":
        names, ends, weights = [], [], []
        for term in filter(None, rest.split(",")):
            match = re.fullmatch(r"([^:=]+)(?::(high|low))?(?:=([0-9.eE+-]+))?", term.strip())
            if not match:
                raise _strategy_error(text, f"cannot read scorecard term '{term}'")
            weight = float(match.group(3)) if match.group(3) else 1.0
            if not weight > 0:
                raise _strategy_error(text, f"weight of '{match.group(1)}' must be positive")
            names.append(need_column(match.group(1)))
            ends.append(match.group(2))
            weights.append(weight)
        if not names:
            raise _strategy_error(text, "a scorecard needs at least one scorer")
        return StrategySpec(kind="scorecard", scorers=tuple(names), ends=tuple(ends), weights=tuple(weights))

    parts = rest.split(":") if rest else []
    target = parts.pop(0) if parts else ""
    end, options = None, {}
    for part in parts:
        if part in ("high", "low"):
            end = part
            continue
        key, eq, value = part.partition("=")
        kind_of = _OPTIONS[head].get(key)
        if not eq or kind_of is None:
            allowed = ", ".join(f"{k}=" for k in _OPTIONS[head]) or "none"
            raise _strategy_error(text, f"unknown option '{part}' for {head} (options: {allowed})")
        try:
            options[key] = kind_of(value)
        except ValueError:
            raise _strategy_error(text, f"option {key} needs a {kind_of.__name__}, got '{value}'") from None
    _check_options(text, head, options)
    if head == "drop-flagged":
        names = tuple(filter(None, target.split(","))) or tuple(
            c for c in columns if f"{c}_flag" in columns)
        if not names:
            raise _strategy_error(text, "the scores have no flag columns (<scorer>_flag)")
        for name in names:
            need_column(name)
            if f"{name}_flag" not in columns:
                raise _strategy_error(text, f"'{name}' flags no rows (no '{name}_flag' column); "
                                      "use a flagging scorer such as label_noise, duplicate or outlier")
        return StrategySpec(kind=head, scorers=names, end=end)
    if not target:
        raise _strategy_error(text, f"{head} needs a scorer, e.g. {head}:el2n")
    if head == "balanced" and target == "random":
        return StrategySpec(kind=head, scorers=(), options=tuple(sorted(options.items())))
    return StrategySpec(kind=head, scorers=(need_column(target),), end=end,
                        options=tuple(sorted(options.items())))


def _check_options(text: str, head: str, options: dict) -> None:
    if "beta" in options and not 0 <= options["beta"] < 1:
        raise _strategy_error(text, "beta must be in [0, 1)")
    if "bins" in options and options["bins"] < 1:
        raise _strategy_error(text, "bins must be at least 1")
    if options.get("hard", "high") not in ("high", "low"):
        raise _strategy_error(text, "hard must be high or low")
    if options.get("mode", "proportional") not in ("proportional", "equal"):
        raise _strategy_error(text, "mode must be proportional or equal")
    for key in ("low", "high"):
        if key in options and not 0 <= options[key] < 1:
            raise _strategy_error(text, f"{key} must be in [0, 1)")
    if options.get("low", 0) + options.get("high", 0) >= 1:
        raise _strategy_error(text, "low + high must leave some rows")


def _is_aux(column: str, columns) -> bool:
    """Flag and extra columns (``<scorer>_flag``, ``<scorer>_group``) are not scores."""
    return any(column != c and column.startswith(c + "_") for c in columns)


def score_names(columns) -> list:
    """The columns that are scores of registered scorers (not flags or extras)."""
    columns = list(columns)
    return [c for c in columns if not _is_aux(c, columns) and scorer_info(c) is not None]


def list_strategies(score_columns) -> list:
    """Valid strategy strings for the computed scores (a DataFrame or its column names)."""
    columns = list(score_columns.columns if isinstance(score_columns, pd.DataFrame) else score_columns)
    scores = score_names(columns)
    out = ["random", "balanced:random"]
    for name in scores:
        out += [name, f"{name}:high", f"{name}:low", f"ccs:{name}", f"balanced:{name}", f"band:{name}"]
        if f"{name}_flag" in columns:
            out.append(f"drop-flagged:{name}")
    if any(f"{c}_flag" in columns for c in scores):
        out.append("drop-flagged")
    if "duplicate_flag" in columns:
        out.append("dedupe")
    if len(scores) > 1:
        out.append("scorecard:" + ",".join(scores))
    return out + list(CORESETS) + ["auto"]
