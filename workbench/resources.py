"""Cached resources: loaded samples, evaluators, maps and score metadata.

``st.cache_resource`` holds objects that are shared read-only between reruns and sessions
(data sets, fitted evaluators); the heavy results are also on disk through ``core.foundation.cache`` so a
restarted app is instant. Data sets are keyed by their fingerprint, never hashed by content.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import streamlit as st

import core
from core.scorers import DEFAULT_SCORERS


@st.cache_data(show_spinner=False)
def list_samples() -> list:
    return core.list_samples()


@st.cache_data(show_spinner=False)
def list_scorers() -> list:
    """Scorer metadata (name, family, description, higher_means, keep, flags, cost...)."""
    return core.list_scorers()


@st.cache_data(show_spinner=False)
def default_scorers() -> list:
    return list(DEFAULT_SCORERS)


def scorer_meta(name: str) -> Optional[dict]:
    for meta in list_scorers():
        if meta["name"] == name:
            return meta
    return None


@st.cache_resource(show_spinner=False, max_entries=4)
def _evaluator(fingerprint: str, folds: int, seed: int, _ds):
    return core.LiveEvaluator(_ds, folds=folds, seed=seed)


def evaluator(ds, folds: int = 5, seed: int = 0):
    """The fast cross-validation evaluator of ``ds`` (folds fixed per data set)."""
    return _evaluator(ds.fingerprint, int(folds), int(seed), ds)


@st.cache_resource(show_spinner=False, max_entries=8)
def _pca_map(fingerprint: str, seed: int, _ds) -> np.ndarray:
    return core.project(_ds, method="pca", seed=seed)


def pca_map(ds, seed: int = 0) -> np.ndarray:
    return _pca_map(ds.fingerprint, int(seed), ds)
