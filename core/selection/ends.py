"""The one rule for which end of a score is kept, read from the scorers' own metadata.

A scorer's ``keep`` ("high" or "low") is the end a default pruning keeps; ``hard`` is the end where
hard-to-learn, atypical or likely mislabeled rows collect, which CCS prunes first.
"""

from __future__ import annotations

from typing import Optional

from core.foundation.errors import ConfigError
from core.scorers import get_scorer, registered_names


def scorer_info(name: str) -> Optional[dict]:
    """Registry metadata of a scorer (``keep``, ``flags``, ``hard``), or None if unregistered."""
    if name not in registered_names():
        return None
    cls = get_scorer(name)
    return {"keep": cls.keep, "flags": bool(cls.flags), "hard": cls.hard}


def default_end(name: str) -> str:
    """The end of ``name`` that a default pruning keeps (its ``keep`` metadata)."""
    info = scorer_info(name)
    if info is None:
        raise ConfigError(
            f"'{name}' is not a registered scorer, so its default end is unknown; "
            f"write '{name}:high' or '{name}:low' to say which end to keep."
        )
    return info["keep"]


def ccs_hard_end(name: str) -> str:
    """The end CCS prunes first: the scorer's declared ``hard`` end."""
    default_end(name)
    return scorer_info(name)["hard"]
