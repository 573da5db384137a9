"""Coresets on the feature matrix, no scores: ``kcenter``, ``kmeans-diversity``, ``facility-location``."""

from __future__ import annotations

from core.selection import coresets
from core.selection.algorithms import mask_from_positions
from core.selection.registry import StrategyKind, register_strategy


def _runner(kind: str, function, with_labels: bool):
    def run(request):
        ds = request.ds
        args = (ds.X, ds.y) if with_labels else (ds.X,)
        positions = function(*args, request.budget, seed=request.seed, progress=request.progress,
                             cancel=request.cancel)
        return mask_from_positions(positions, ds.n_samples), {"kind": kind}, {}
    return run


for _name, _title, _function, _labels, _help in (
    ("kcenter", "k-center greedy", coresets.k_center_greedy, False,
     "Greedy k-center coreset (Sener & Savarese 2018): each pick is the row farthest from those kept."),
    ("kmeans-diversity", "k-means diversity", coresets.kmeans_diversity, True,
     "Per-class k-means with as many clusters as the class quota; keeps the row nearest each centre."),
    ("facility-location", "Facility location", coresets.facility_location, False,
     "Lazy-greedy facility location on a sparse 10-NN similarity graph: rows that represent many others."),
):
    register_strategy(StrategyKind(name=_name, title=_title, order=70, syntax=_name, target="none", budget="keep",
                                   needs_features=True, help=_help, run=_runner(_name, _function, _labels)))
