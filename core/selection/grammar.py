"""Strategy strings: the one grammar, asked by :func:`core.select`, the CLI and the app alike.

``:`` separates the parts of a strategy string, options are ``key=value``::

    <kind>                                   random, kcenter, auto, ...
    <kind>:<scorer>[:high|:low][:key=value]  ccs:el2n:beta=0.2, balanced:margin:mode=equal
    <scorer>[:high|:low]                     a bare scorer: keep the top rows by that score
    drop-flagged[:<scorer>[,<scorer>...]]    drop flagged rows
    scorecard:<s1>[:high|:low][=w1],<s2>...  weighted mean of rank percentiles

Which kinds exist, which options they take, and whether they need a keep fraction or accept a
threshold is declared by each kind in :mod:`core.selection.registry`; this module only reads it.

The one rule for which end of a score is kept: a scorer's ``keep`` metadata ("high" or "low") is the
end a default pruning keeps; ``:high``/``:low`` override it. CCS prunes its ``beta`` fraction from
the scorer's declared ``hard`` end (``:hard=high|low`` overrides it). Scorecards orient each scorer
by its ``keep``.
"""

from __future__ import annotations

import math

import re
from dataclasses import dataclass, replace
from typing import Optional, Union

import pandas as pd

from core.foundation.errors import Advice, ConfigError
from core.scorers import DEFAULT_SCORERS, flag_column, reads_labels, registered_names
from core.selection.ends import scorer_info
from core.selection.quotas import MODES
from core.selection.registry import StrategyKind, aliases, get_kind, strategy_kinds

BARE = "top"


# ----------------------------------------------------------------------------- the parsed form


@dataclass(frozen=True)
class StrategySpec:
    """A parsed strategy string.

    ``kind`` is a registered kind name (``"top"`` for a bare scorer); ``options`` are sorted
    ``(key, value)`` pairs with every default filled in, so equal strategies compare equal.
    """

    kind: str
    scorers: tuple = ()
    end: Optional[str] = None
    options: tuple = ()
    weights: tuple = ()
    ends: tuple = ()
    #: Class quotas applied around any kind (:mod:`core.selection.quotas`): None, or one of its modes.
    quota: Optional[str] = None

    @property
    def option(self) -> dict:
        return dict(self.options)

    @property
    def info(self) -> StrategyKind:
        return get_kind(self.kind)


def _forms() -> str:
    return ", ".join(kind.syntax for kind in strategy_kinds())


def _strategy_error(text: str, why: str) -> ConfigError:
    """What is wrong, then every valid form for a typed strategy; the app, whose form offers only valid kinds
    and targets, says what is wrong."""
    problem = f"Strategy '{text}' is not valid: {why}."
    return ConfigError(Advice(f"{problem} Valid forms: {_forms()}.", app=problem))


def parse_strategy(text: str, score_columns=None) -> StrategySpec:
    """Parse a strategy string.

    Parameters
    ----------
    text : str
    score_columns : iterable of str, optional
        The computed score columns. When given, every scorer named must be among them; when
        omitted (checking a command line before any work), every scorer named must be registered.

    Raises
    ------
    ConfigError
        With the reason and the valid forms.
    """
    if not isinstance(text, str) or not text.strip():
        raise _strategy_error(str(text), "it is empty")
    text = text.strip()
    head, colon, rest = text.partition(":")
    text = aliases().get(head, head) + colon + rest  # an alias takes options too: dedupe:keep=central
    text, quota = _split_quota(text)
    spec = _parse(text, score_columns)
    if quota is None:
        return spec
    if spec.info.searched or spec.info.budget not in ("keep", "keep-or-threshold"):
        raise _strategy_error(text, f"quota= applies to strategies that take a keep fraction, not {spec.kind}")
    return replace(spec, quota=quota)


QUOTA = "quota="


def _split_quota(text: str) -> tuple:
    """(text without its ``:quota=<mode>`` part, mode or None): the one modifier every kind takes."""
    parts = text.split(":")
    found = [p for p in parts[1:] if p.startswith(QUOTA)]
    if not found:
        return text, None
    mode = found[-1][len(QUOTA):]
    if len(found) > 1 or mode not in MODES:
        raise _strategy_error(text, f"quota must be given once, as {' or '.join(MODES)}")
    return ":".join(p for p in parts if not p.startswith(QUOTA) or p is parts[0]), mode


def _parse(text: str, score_columns) -> StrategySpec:
    columns = None if score_columns is None else list(score_columns)
    head, _, rest = text.partition(":")
    kind = get_kind(head)
    if kind is None:
        return _parse_bare(text, head, rest, columns)
    if kind.target == "bare-scorer":  # "top:el2n:low" is the long form of "el2n:low"
        name, _, end = rest.partition(":")
        return _parse_bare(text, name, end, columns)
    if kind.target == "none":
        if rest:
            raise _strategy_error(text, f"{head} takes no scorer or options")
        return StrategySpec(kind=head)
    if kind.target == "terms":
        return _parse_terms(text, rest, columns)
    parts = rest.split(":") if rest else []
    target = parts.pop(0) if parts else ""
    end, options = _parse_parts(text, kind, parts)
    names = _targets(text, kind, target, columns)
    return StrategySpec(kind=head, scorers=names, end=end, options=tuple(sorted(options.items())))


def _need_scorer(text: str, name: str, columns) -> str:
    if columns is None:
        if name not in registered_names():
            raise _strategy_error(text, f"'{name}' is neither a strategy nor a scorer "
                                        f"(scorers: {', '.join(registered_names())})")
    elif name not in columns:
        available = ", ".join(score_names(columns)) or "none"
        raise _strategy_error(text, f"no score column '{name}' (computed scores: {available})")
    return name


def _parse_bare(text, head, rest, columns) -> StrategySpec:
    if rest not in ("", "high", "low"):
        raise _strategy_error(text, f"'{rest}' is not an end; use high or low")
    if columns is not None and head in columns and scorer_info(head) is None and not rest:
        raise _strategy_error(text, f"'{head}' is not a registered scorer, so its default end is unknown; "
                                    f"write '{head}:high' or '{head}:low'")
    return StrategySpec(kind=BARE, scorers=(_need_scorer(text, head, columns),), end=rest or None)


def _parse_parts(text: str, kind: StrategyKind, parts: list) -> tuple:
    end, given = None, {}
    for part in parts:
        if part in ("high", "low") and kind.takes_end:
            end = part
            continue
        key, eq, value = part.partition("=")
        option = kind.options.get(key)
        if not eq or option is None:
            allowed = ", ".join(f"{k}=" for k in kind.options) or "none"
            raise _strategy_error(text, f"unknown option '{part}' for {kind.name} (options: {allowed})")
        if key in given:
            raise _strategy_error(text, f"option {key} is given twice; give it once")
        try:
            given[key] = option.type(value)
        except ValueError:
            raise _strategy_error(text, f"option {key} needs a {option.type.__name__}, got '{value}'") from None
        if isinstance(given[key], float) and not math.isfinite(given[key]):
            raise _strategy_error(text, f"option {key} needs a finite number, got '{value}'")
        problem = option.problem(given[key])
        if problem:
            raise _strategy_error(text, f"{key} {problem}")
    options = {key: option.default for key, option in kind.options.items() if option.default is not None}
    options.update(given)
    return end, options


def _targets(text: str, kind: StrategyKind, target: str, columns) -> tuple:
    if kind.target == "scorer-or-random" and target == "random":
        return ()
    if kind.target == "flagging-scorers":
        names = tuple(filter(None, target.split(",")))
        if not names and columns is not None:
            names = tuple(c for c in score_names(columns) if flag_column(c) in columns)
            if not names:
                raise _strategy_error(text, "the scores have no flag columns (<scorer>_flag)")
        for name in names:
            _need_scorer(text, name, columns)
            flags = (flag_column(name) in columns) if columns is not None else (scorer_info(name) or {}).get("flags")
            if not flags:
                raise _strategy_error(text, f"'{name}' flags no rows; use a flagging scorer such as "
                                            "label_noise, duplicate or outlier")
        return names
    if not target:
        raise _strategy_error(text, f"{kind.name} needs a scorer, e.g. {kind.name}:el2n")
    return (_need_scorer(text, target, columns),)


def _parse_terms(text: str, rest: str, columns) -> StrategySpec:
    names, ends, weights = [], [], []
    for term in filter(None, rest.split(",")):
        match = re.fullmatch(r"([^:=]+)(?::(high|low))?(?:=([0-9.eE+-]+))?", term.strip())
        if not match:
            raise _strategy_error(text, f"cannot read scorecard term '{term}'")
        weight = float(match.group(3)) if match.group(3) else 1.0
        if not weight > 0:
            raise _strategy_error(text, f"weight of '{match.group(1)}' must be positive")
        names.append(_need_scorer(text, match.group(1), columns))
        ends.append(match.group(2))
        weights.append(weight)
    if not names:
        raise _strategy_error(text, "a scorecard needs at least one scorer")
    return StrategySpec(kind="scorecard", scorers=tuple(names), ends=tuple(ends), weights=tuple(weights))


# ----------------------------------------------------------------------------- asking the grammar


def as_spec(strategy: Union[str, StrategySpec], score_columns=None) -> StrategySpec:
    return strategy if isinstance(strategy, StrategySpec) else parse_strategy(strategy, score_columns)


def format_strategy(strategy: Union[str, StrategySpec]) -> str:
    """The canonical text of a strategy: defaults left out, so equal strategies format equal.

    ``ccs:el2n:beta=0.1`` formats as ``ccs:el2n`` (0.1 is the default) and ``el2n:high`` as
    ``el2n`` when high is el2n's default end; class quotas come last (``ccs:el2n:quota=drop``).
    """
    spec = as_spec(strategy)
    if spec.quota:
        return f"{format_strategy(replace(spec, quota=None))}:{QUOTA}{spec.quota}"
    kind = spec.info
    if spec.kind == BARE:
        name = spec.scorers[0]
        info = scorer_info(name)
        return name if spec.end is None or (info and info["keep"] == spec.end) else f"{name}:{spec.end}"
    if kind.target == "terms":
        terms = []
        for name, end, weight in zip(spec.scorers, spec.ends, spec.weights):
            end = None if end == (scorer_info(name) or {}).get("keep") else end
            terms.append(name + (f":{end}" if end else "") + ("" if weight == 1 else f"={weight:g}"))
        return "scorecard:" + ",".join(terms)
    parts = [spec.kind]
    if kind.target != "none":
        parts.append(",".join(spec.scorers) if spec.scorers else ("random" if kind.target == "scorer-or-random" else ""))
    if spec.end and spec.scorers and spec.end != (scorer_info(spec.scorers[0]) or {}).get("keep"):
        parts.append(spec.end)
    for key, value in spec.options:
        if value != kind.options[key].default:
            parts.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
    return ":".join(p for p in parts if p != "" or p is parts[0])


def needed_scorers(strategy: Union[str, StrategySpec]) -> list:
    """Scorers a strategy needs computed (flag-dropping with no scorer named: the default flaggers)."""
    spec = as_spec(strategy)
    fixed = [name for name in (spec.info.scorers if spec.info is not None else ()) if name not in spec.scorers]
    if spec.scorers or fixed:
        return list(spec.scorers) + fixed
    if spec.info is not None and spec.info.target == "flagging-scorers":
        return [n for n in DEFAULT_SCORERS if (scorer_info(n) or {}).get("flags")]
    return []


def scores_read_labels(strategy: Union[str, StrategySpec]) -> bool:
    """Whether a score the strategy ranks by was computed from the labels.

    Such scores, computed on all rows, saw every fold's labels; a strategy whose scores ignore the
    labels (or that uses none) can share one all-rows ranking across folds without any leak.
    Columns of unregistered scorers count as reading the labels (their origin is unknown). A
    strategy names no parameters, so each scorer is asked as registered
    (:func:`core.scorers.reads_labels`); a table's own records decide where the table is known
    (:func:`core.workflows.labelled_scorers`).
    """
    return any(reads_labels(name) for name in needed_scorers(strategy))


def budget_rule(strategy: Union[str, StrategySpec]) -> str:
    """``"keep"``, ``"keep-or-threshold"``, ``"optional-keep"`` or ``"none"`` (see the registry)."""
    spec = as_spec(strategy)
    return get_kind(spec.kind).budget


def check_budget(strategy: Union[str, StrategySpec], keep, threshold) -> None:
    """Raise ConfigError unless the keep fraction / threshold given fit the strategy's budget rule."""
    spec = as_spec(strategy)
    rule, text = budget_rule(spec), format_strategy(spec)
    if keep is not None and threshold is not None:
        raise ConfigError("Give either a keep fraction or a threshold, not both.")
    if threshold is not None and rule != "keep-or-threshold":
        raise ConfigError(f"A threshold applies only to single-score strategies such as 'el2n' or 'el2n:low', "
                          f"not to '{text}'; give a keep fraction instead.")
    if keep is not None and rule == "none":
        raise ConfigError(f"Strategy '{text}' takes no keep fraction: it drops exactly the flagged rows. "
                          "Leave the keep fraction out.")
    if keep is None and threshold is None and rule in ("keep", "keep-or-threshold"):
        also = " or a threshold" if rule == "keep-or-threshold" else ""
        raise ConfigError(f"Strategy '{text}' needs a keep fraction in (0, 1]{also}, e.g. keep=0.3 "
                          "(--keep 0.3 on the command line).")


def describe_strategy(strategy: Union[str, StrategySpec]) -> str:
    """One line a person can read, e.g. ``Coverage-centric (CCS) on el2n, beta=0.2``."""
    spec = as_spec(strategy)
    if spec.quota:
        return f"{describe_strategy(replace(spec, quota=None))}, within {spec.quota} class quotas"
    if spec.kind == BARE:
        name = spec.scorers[0]
        end = spec.end or (scorer_info(name) or {}).get("keep", "high")
        return f"Keep the {end} end of {name}"
    title = spec.info.title
    details = [", ".join(spec.scorers)] if spec.scorers else []
    details += [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in spec.options]
    return title + (f" on {details[0]}" if spec.scorers else "") + "".join(f", {d}" for d in details[1 if spec.scorers else 0:])


def score_names(columns) -> list:
    """The columns that are scores of registered scorers (not flags or extras)."""
    columns = list(columns)
    registered = set(registered_names())
    return [c for c in columns if c in registered]


def list_strategies(score_columns) -> list:
    """Strategy strings valid for the computed scores (a DataFrame or its column names)."""
    columns = list(score_columns.columns if isinstance(score_columns, pd.DataFrame) else score_columns)
    scores = score_names(columns)
    flaggers = [n for n in scores if flag_column(n) in columns]
    out = []
    for kind in strategy_kinds():
        if kind.target == "none":
            out.append(kind.name)
        elif kind.target == "scorer-or-random":
            out += [f"{kind.name}:random"] + [f"{kind.name}:{n}" for n in scores]
        elif kind.target == "scorer":
            out += [f"{kind.name}:{n}" for n in scores]
        elif kind.target == "flagging-scorers" and flaggers:
            out += [kind.name] + [f"{kind.name}:{n}" for n in flaggers]
        elif kind.target == "terms" and len(scores) > 1:
            out.append(f"{kind.name}:" + ",".join(scores))
        elif kind.target == "bare-scorer":
            out += [form for n in scores for form in (n, f"{n}:high", f"{n}:low")]
    out += [alias for alias, target in aliases().items() if _valid(target, columns)]
    return list(dict.fromkeys(out))


def _valid(text: str, columns) -> bool:
    try:
        parse_strategy(text, columns)
    except ConfigError:
        return False
    return True
