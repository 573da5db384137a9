"""The scorer contract and the registry every scorer joins through :func:`register`.

A scorer maps a :class:`~core.data.dataset.Dataset` to one float per row and declares, as class
attributes, what that number means:

``name``
    The column name in every output (flags and extras derive from it: ``<name>_flag``,
    ``<name>_<what>``). Unique across the registry.
``family``
    ``"geometry"`` (features only), ``"model"`` (cross-fitted out-of-fold probabilities),
    ``"dynamics"`` (statistics recorded while a proxy model trains) or ``"valuation"``.
``description``
    One line a user can read.
``higher_means``
    What a high value says about a row, e.g. ``"more likely mislabeled"``.
``keep``
    Which end a default pruning keeps (``"high"`` or ``"low"``). The one rule: **keep the end
    the score's own paper recommends training on.** Difficulty scores keep the hard end (Paul
    et al. 2021, Toneva et al. 2019, Sorscher et al. 2022 for abundant data; the uncertainty
    scores of Coleman et al. 2020), detectors of bad rows (label noise, duplicates, outliers)
    keep the clean end, AUM and data-map confidence keep the high end because mislabeled rows
    collect at their low end (Pleiss et al. 2020, Swayamdipta et al. 2020), and data values keep
    the valuable end.
``needs_labels``
    Whether the score uses the labels.
``flags``
    Whether :meth:`Scorer.compute` also returns a boolean flag per row (rows to drop).
``cost``
    ``"fast"``, ``"medium"`` or ``"slow"`` at 50k rows on a laptop.

The constructor only stores keyword parameters (so a scorer prints, compares and hashes into a
cache key through :meth:`Scorer.get_params`); the work happens in :meth:`Scorer.compute`, which
takes the shared :class:`~core.scorers.context.ScoringContext` so that work common to several
scorers (out-of-fold probabilities, the neighbour graph, training dynamics) runs once per call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Optional

import numpy as np

from core.foundation.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from core.data.dataset import Dataset
    from core.scorers.context import ScoringContext

FAMILIES = ("geometry", "model", "dynamics", "valuation")
COSTS = ("fast", "medium", "slow")
METADATA_KEYS = ("name", "family", "description", "higher_means", "keep", "hard", "needs_labels", "flags", "cost")

_REGISTRY: dict[str, type["Scorer"]] = {}


def flag_column(name: str) -> str:
    """The column holding a flagging scorer's per-row flags: ``<name>_flag``."""
    return f"{name}_flag"


def extra_column(name: str, key: str) -> str:
    """The column of a scorer's extra per-row output ``key``: ``<name>_<key>`` (e.g. ``duplicate_group``)."""
    return f"{name}_{key}"


@dataclass
class ScoreResult:
    """What one scorer returns.

    Attributes
    ----------
    scores : ndarray of shape (n_samples,), dtype float64
        One finite value per row.
    flags : ndarray of shape (n_samples,), dtype bool, or None
        Rows the scorer suggests dropping; None for scorers that only rank.
    extra : dict of str to ndarray of shape (n_samples,)
        Further per-row columns, written out as ``<name>_<key>`` (e.g. ``duplicate_group``).
    """

    scores: np.ndarray
    flags: Optional[np.ndarray] = None
    extra: dict = field(default_factory=dict)


class Scorer:
    """Base class of every scorer; subclasses set the metadata and implement ``_compute``."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    description: ClassVar[str] = ""
    higher_means: ClassVar[str] = ""
    keep: ClassVar[str] = ""
    #: The end where the hardest rows collect (hard to learn, atypical or likely mislabeled): the
    #: end coverage-centric selection (CCS) prunes first. It equals ``keep`` for difficulty scores
    #: (EL2N, loss, forgetting) and is the opposite end for scores that keep the clean end
    #: (label_noise, AUM, data-map confidence, KNN-Shapley).
    hard: ClassVar[str] = ""
    needs_labels: ClassVar[bool] = True
    flags: ClassVar[bool] = False
    cost: ClassVar[str] = "fast"
    #: Default keyword parameters; the constructor accepts exactly these names.
    defaults: ClassVar[dict] = {}

    def __init__(self, **params):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ConfigError(
                f"Scorer {self.name!r} has no parameter(s) {unknown}; "
                f"valid parameters are {sorted(self.defaults)}."
            )
        for key, value in {**self.defaults, **params}.items():
            setattr(self, key, value)

    def get_params(self) -> dict:
        """The keyword parameters, for printing, cache keys and manifests."""
        return {key: getattr(self, key) for key in self.defaults}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_params() == other.get_params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(map(str, self.get_params().items())))))

    @classmethod
    def metadata(cls) -> dict:
        """The metadata as a JSON-able dict (keys :data:`METADATA_KEYS`)."""
        return {key: getattr(cls, key) for key in METADATA_KEYS}

    def needs(self) -> dict:
        """Shared work this scorer will ask the context for, so it can be planned at once.

        Returns a dict with optional keys ``"neighbors"`` (int: neighbours per row),
        ``"oof"`` (True) and ``"dynamics"`` (True).
        """
        return {}

    def own_work(self, n_rows: int, n_features: int, n_classes: int) -> float:
        """Work of this scorer's own pass over the shared results, in rows x width units.

        The scoring-time estimate (:mod:`core.scorers.cost`) multiplies it by the scorer's calibrated
        rate (``cost_coefficients.json``, the default rate for a new scorer). The default follows
        :meth:`needs`: ``k`` per row over a neighbour graph, ``runs x epochs`` per row over training
        records, ``C`` per row otherwise. A scorer whose pass is shaped otherwise overrides it.
        """
        needs = self.needs()
        if needs.get("neighbors"):
            return float(n_rows * needs["neighbors"])
        if needs.get("dynamics"):
            return float(n_rows * getattr(self, "runs", 1) * getattr(self, "epochs", 1))
        return float(n_rows * n_classes)

    def own_shared_work(self, n_rows: int, n_features: int, n_classes: int) -> list:
        """Work this scorer adds beyond the context's shared pieces of :meth:`needs` (k-means
        prototypes, extra training runs), for the scoring-time estimate.

        Returns a list of ``(sharing key, label, coefficient group, work units)``: a piece is counted
        once per sharing key, priced by the group's calibrated seconds per unit (``kmeans``: ``units``
        of ``n d clusters``; ``mlp``: ``units`` of :func:`core.scorers.records.training_units`).
        """
        return []

    def compute(self, ds: "Dataset", context: "ScoringContext") -> ScoreResult:
        """Score every row of ``ds``; returns a validated :class:`ScoreResult`."""
        result = self._compute(ds, context)
        return _validated(self, result, ds.n_samples)

    def _compute(self, ds: "Dataset", context: "ScoringContext") -> ScoreResult:  # pragma: no cover
        raise NotImplementedError


def _validated(scorer: Scorer, result: ScoreResult, n_samples: int) -> ScoreResult:
    # A scorer that breaks its contract is a bug, so these are assertions, not user errors.
    scores = np.asarray(result.scores, dtype=np.float64)
    if scores.shape != (n_samples,) or not np.isfinite(scores).all():
        raise AssertionError(f"scorer {scorer.name!r} returned non-finite or mis-shaped scores")
    flags = result.flags
    if scorer.flags:
        flags = np.zeros(n_samples, bool) if flags is None else np.asarray(flags, dtype=bool)
        if flags.shape != (n_samples,):
            raise AssertionError(f"scorer {scorer.name!r} returned mis-shaped flags")
    else:
        flags = None
    extra = {key: np.asarray(value) for key, value in result.extra.items()}
    for key, value in extra.items():
        if value.shape != (n_samples,):
            raise AssertionError(f"scorer {scorer.name!r} returned mis-shaped extra column {key!r}")
    return ScoreResult(scores=scores, flags=flags, extra=extra)


def register(cls: type[Scorer]) -> type[Scorer]:
    """Class decorator that adds a scorer to the registry; a second scorer of the same name raises."""
    missing = [key for key in METADATA_KEYS if getattr(cls, key, "") in ("", None)]
    if missing:
        raise TypeError(f"scorer {cls.__name__} lacks metadata {missing}")
    if cls.family not in FAMILIES or cls.keep not in ("high", "low") or cls.hard not in ("high", "low") \
            or cls.cost not in COSTS:
        raise TypeError(f"scorer {cls.name!r} has invalid family, keep, hard or cost")
    if cls.name in _REGISTRY:
        raise ValueError(f"a scorer named {cls.name!r} is already registered ({_REGISTRY[cls.name].__name__})")
    _REGISTRY[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a scorer from the registry (for tests and plug-ins that replace one)."""
    _REGISTRY.pop(name, None)


def registered_names() -> list[str]:
    """Names of all registered scorers, in registration order."""
    return list(_REGISTRY)


def reads_labels(name: str, params: Optional[dict] = None) -> bool:
    """Whether the scorer registered as ``name``, run with ``params`` (its defaults when None), reads the labels.

    The one rule every layer asks (fold-wise scores, the search's label-free columns, a recipe's
    leak check): the instance decides, since a parameter can change it (a prototypicality by class
    centroid reads the labels, the k-means one does not). An unregistered name counts as reading
    them (its origin is unknown), and so do parameters the scorer refuses.
    """
    if name not in _REGISTRY:
        return True
    try:
        return bool(_REGISTRY[name](**(params or {})).needs_labels)
    except (ConfigError, TypeError, ValueError):
        return True


def get_scorer(name: str) -> type[Scorer]:
    """The scorer class registered under ``name``.

    Raises
    ------
    ConfigError
        If no scorer has that name; the message lists the valid names.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"Unknown scorer {name!r}. Valid scorers are: {', '.join(_REGISTRY)}."
        ) from None


def list_scorers() -> list[dict]:
    """Metadata of every registered scorer (keys :data:`METADATA_KEYS`), in registration order."""
    return [cls.metadata() for cls in _REGISTRY.values()]
