"""How long a set of scorers will take, estimated from rows x columns before anything runs.

The estimate adds up the work :func:`core.compute_scores` will do, each piece counted once however
many scorers share it, with a cost that follows its complexity:

====================================  ==============================================================
piece                                 work units (n rows, d columns, C classes)
====================================  ==============================================================
exact neighbour graph (n <= 20k)      ``n^2 d`` and ``n^2`` (distances, then the k smallest per row)
approximate graph (faiss IVF, 20k-2M) ``n^1.5 d`` (each row scans ``probes`` of ``2 sqrt n`` cells)
                                      and ``n d`` (cell training, adding rows, the recall check)
approximate graph (faiss HNSW, > 2M)  ``n log2(n)`` and ``n log2(n) d`` (each row's search visits about
                                      ``log n`` nodes, reading and measuring each)
out-of-fold logistic regression       ``folds * n_train * (d + 1) * C`` (one L-BFGS fit per fold;
                                      ``n_train`` stops growing at ``LargeData.fit_rows``)
k-means prototypes                    ``n d clusters`` (three restarts)
proxy MLP (dynamics, AUM cut, mlp)    ``runs * epochs * n * hidden * (d + C)``
PCA of wide data (``max_dim``)        ``n D^2`` (covariance solver) or ``n D 128`` (randomized)
each scorer's own pass                ``Scorer.own_work``: ``n`` times a small width (k, k*d, C, ...);
                                      Data-OOB's bagged trees ``B n log2(n) sqrt(d)``
a scorer's own extra shared work      ``Scorer.own_shared_work`` (prototypes' k-means, AUM's threshold runs)
====================================  ==============================================================

Each scorer class declares the shape of its own work (:meth:`core.scorers.Scorer.own_work`,
:meth:`~core.scorers.Scorer.own_shared_work`); this module knows no scorer by name. A piece is charged
to the first scorer, in the order given, that needs it (as the progress bar sees it). Seconds per
unit come from ``cost_coefficients.json`` beside this module, fitted by
``benchmarks/scorers.py --calibrate`` from timed runs on the reference machine (a busy 2-core
laptop-class machine). At run time a fixed small matrix product and sort (:func:`probe_seconds`,
about 20 ms, once per process and again every ten minutes) is timed and the estimate scaled by how
much faster or slower this machine is than the reference: a faster machine gets a smaller estimate,
and so does a machine that is less loaded than the reference was at calibration.

The PCA of wide data happens while loading, so it counts in ``total`` and ``parts`` but in no scorer.

Honest limits: the coefficients come from generated Gaussian-mixture data, so the L-BFGS iterations
of the out-of-fold fits and the k-means iterations are those data's; harder data may need more.
Background load at probe time inflates the estimate. Work already in the disk cache is not
subtracted. Measured with ``benchmarks/scorers.py --estimate`` (default scorers, one run each, 2-core
machine at load 1.7, recalibrated the same hour): the estimate was 0.80, 0.99, 0.89, 0.73 and 0.91 times
the measured time at 3k x 64, 20k x 64, 20k x 784, 50k x 64 and 100k x 128. In the app it reads lower
(0.62-0.73x in ``benchmarks/app_browser.py``): that benchmark's isotropic tables make the inverted file
probe more cells than the calibration's low-rank data, and the server's own threads run beside.
"""

from __future__ import annotations

import functools
import json
import math
import sys
import time
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np

from core.data.featurizers import resolve_max_dim
from core.foundation.errors import ConfigError
from core.foundation.neighbors import resolve_search
from core.foundation.seeds import rng
from core.foundation.threads import single_threaded
from core.scorers.base import Scorer, get_scorer
from core.scorers.context import LargeData
from core.scorers.oof import PROXY_MODELS
from core.scorers.records import LOOP_DEFAULTS, training_units

COEFFICIENTS_FILE = Path(__file__).with_name("cost_coefficients.json")
#: Epochs of each fold's MLP when the out-of-fold proxy is ``"mlp"`` (see :mod:`core.scorers.oof`).
OOF_MLP_EPOCHS = 20


@functools.lru_cache(maxsize=1)
def coefficients() -> dict:
    """The calibrated seconds-per-unit table (``cost_coefficients.json``)."""
    return json.loads(COEFFICIENTS_FILE.read_text(encoding="utf-8"))


def probe_seconds(repeats: int = 5) -> float:
    """Seconds of a fixed small workload on one thread: a 384 x 384 float32 matrix product and four
    gathers of 262,144 doubles in random order (the two kinds of work scoring spends its time in: dense
    products, and reads from scattered rows as a graph search makes).

    One BLAS thread, because two threads on a loaded two-core machine measured 5-15 times slower
    and swung from run to run, while one thread stayed within about 10 %. The best of ``repeats``
    runs, so a passing hiccup does not count; about 20 ms in all. It measures one core: a machine
    with more cores than the reference gets a somewhat high (cautious) estimate. A sort of 200k
    doubles was part of it until NumPy's choice of sorting code was found to differ 5-8x between
    processors of the same speed at everything else (9 ms on an AMD EPYC, about 1 ms where the table
    was calibrated): every estimate there read 3.7-6.3 times the measured time.
    """
    generator = rng(0, "speed-probe")
    matrix = generator.standard_normal((384, 384), dtype=np.float32)
    # 2 MB, under the 4 MB from which NumPy asks the kernel for huge pages: an 8 MB array got them in
    # some processes and not in others, and its gather took 1.4 or 2.9 ms by that alone
    values = generator.standard_normal(262_144)
    scattered = generator.permutation(len(values))
    # results go to buffers made once: a fresh array per run is mapped page by page, and the kernel's
    # page faults (which vary with everything else the machine does) swamped the gather
    product, gathered = np.empty_like(matrix), np.empty_like(values)
    best_product, best_gather = math.inf, math.inf
    with single_threaded("blas"):
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(matrix, matrix, out=product)
            middle = time.perf_counter()
            for _ in range(4):
                np.take(values, scattered, out=gathered, mode="clip")  # "raise" would buffer the output
            best_product, best_gather = min(best_product, middle - start), min(best_gather, time.perf_counter() - middle)
    return best_product + best_gather


#: Seconds a probe result is reused: a long-running app re-measures now and then, as the load changes.
PROBE_REUSE_SECONDS = 600.0
_probe_memo: dict = {}


def machine_factor() -> float:
    """This machine's probe time over the reference machine's, clipped to [0.1, 10].

    Measured at the first call, and again after :data:`PROBE_REUSE_SECONDS`.
    """
    now = time.monotonic()
    if not _probe_memo or now - _probe_memo["at"] > PROBE_REUSE_SECONDS:
        _probe_memo.update(at=now, factor=float(np.clip(probe_seconds() / coefficients()["probe_seconds"], 0.1, 10.0)))
    return _probe_memo["factor"]


def _scorers(names) -> list[Scorer]:
    if isinstance(names, str):
        names = [part for part in names.split(",") if part.strip()]
    elif isinstance(names, (Scorer, type)):
        names = [names]
    scorers = []
    for spec in names:
        if isinstance(spec, Scorer):
            scorers.append(spec)
        elif isinstance(spec, type) and issubclass(spec, Scorer):
            scorers.append(spec())
        elif isinstance(spec, str):
            scorers.append(get_scorer(spec.strip())())  # an unknown name raises ConfigError listing the valid ones
        else:
            raise ConfigError(f"Cannot estimate {spec!r}; give scorer names such as 'el2n'.")
    if not scorers:
        raise ConfigError("No scorers to estimate; give at least one scorer name.")
    return scorers


def _validate_shape(n_rows, n_features, n_classes, folds, model) -> None:
    for label, value, least in (("n_rows", n_rows, 2), ("n_features", n_features, 1), ("n_classes", n_classes, 1),
                                ("folds", folds, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ConfigError(f"{label} must be a whole number of at least {least}, not {value!r}.")
    if model not in PROXY_MODELS:
        raise ConfigError(f"Unknown proxy model {model!r}; choose one of {', '.join(PROXY_MODELS)}.")


def graph_units(n: int, d: int, search: str) -> tuple:
    """``(coefficient group, work units)`` of an approximate graph of ``n`` rows x ``d`` features.

    The HNSW search's time hardly follows ``d`` (it waits on reads of scattered rows more than it
    computes), so it is priced per ``n log n`` visit as well as per ``n log n d`` arithmetic."""
    if search == "hnsw":
        nlogn = n * math.log2(max(n, 2))
        return "neighbors_hnsw", {"nlogn": nlogn, "nlognd": nlogn * d}
    return "neighbors_approximate", {"n15d": n ** 1.5 * d, "nd": float(n * d)}


def _graph_part(n: int, d: int, large: LargeData) -> tuple:
    if n > large.approximate_above:
        return ("neighbors", "neighbors approximate") + graph_units(n, d, resolve_search(large.search, n))
    return "neighbors", "neighbors exact", "neighbors_exact", {"n2d": float(n) * n * d, "n2": float(n) * n}


def _oof_part(n, d, classes, folds, model, large) -> Optional[tuple]:
    train = min(n, large.fit_rows if model == "logreg" else n) * (folds - 1) / folds
    if model == "logreg":
        return "oof", "oof logreg", "oof_logreg", {"units": folds * train * (d + 1) * classes}
    if model == "mlp":
        return "oof", "oof mlp", "mlp", {"units": training_units(folds, OOF_MLP_EPOCHS, int(train),
                                                                 LOOP_DEFAULTS["hidden"], d, classes)}
    return None  # the knn proxy reads the neighbour graph


def _shared_parts(scorer: Scorer, n, d, classes, folds, model, large) -> list[tuple]:
    """The pieces of shared work ``scorer`` needs: (sharing key, label, coefficient group, work units)."""
    needs, parts = scorer.needs(), []
    if needs.get("neighbors") or (needs.get("oof") and model == "knn"):
        parts.append(_graph_part(n, d, large))
    if needs.get("oof"):
        oof = _oof_part(n, d, classes, folds, model, large)
        parts += [oof] if oof else []
    if needs.get("dynamics"):
        loop = {key: getattr(scorer, key, LOOP_DEFAULTS[key]) for key in LOOP_DEFAULTS}
        parts.append((f"dynamics {sorted(loop.items())}", "training dynamics", "mlp", {"units": training_units(
            loop["runs"], loop["epochs"], n, loop["hidden"], d, classes)}))
    return parts + scorer.own_shared_work(n, d, classes)


def pca_units(n: int, width: int, components: int) -> dict:
    """Work of the PCA that reduces wide data: scikit-learn picks its solver by shape.

    Tall, narrow data (at most 1,000 columns and ten rows per column) form the covariance matrix,
    ``n D^2``; other data take a randomized SVD, ``n D k``.
    """
    if width <= 1000 and n >= 10 * width:
        return {"covariance": float(n) * width * width, "randomized": 0.0}
    return {"covariance": 0.0, "randomized": float(n) * width * components}


def _seconds(group: str, units: dict) -> float:
    table = coefficients()["groups"][group]
    return table.get("fixed", 0.0) + sum(table["per"][term] * amount for term, amount in units.items())


def _own_seconds(scorer: Scorer, n, d, classes) -> float:
    per_unit = coefficients()["scorers"]
    rate = per_unit.get(scorer.name, per_unit["default"])
    return rate * scorer.own_work(n, d, classes)


def _plan(scorers, n, d, classes, folds, model, large, prefix="") -> list[tuple[str, str, str, float]]:
    """(scorer, piece, coefficient group, reference seconds) for every piece of work, shared pieces once."""
    plan, seen = [], set()
    for scorer in scorers:
        if hasattr(scorer, "inner_scorer"):  # pseudo-label scorers: k-means, then the inner scorer on its own context
            clusters = int(max(2, min(int(getattr(scorer, "clusters", 0)) or max(classes, 2), n // 2)))
            plan.append((scorer.name, "kmeans pseudo labels", "kmeans",
                         _seconds("kmeans", {"units": float(n * d * clusters)})))
            plan += [(scorer.name, piece, group, s) for _, piece, group, s in
                     _plan([scorer.inner_scorer()], n, d, clusters, folds, model, large, prefix=f"{scorer.name}: ")]
            continue
        for key, label, group, units in _shared_parts(scorer, n, d, classes, folds, model, large):
            if key not in seen:
                seen.add(key)
                plan.append((scorer.name, prefix + label, group, _seconds(group, units)))
        plan.append((scorer.name, f"{prefix}{scorer.name} pass", "scorer", _own_seconds(scorer, n, d, classes)))
    return plan


def estimate_seconds(
    names: Union[str, Iterable, Scorer],
    n_rows: int,
    n_features: int,
    n_classes: int,
    *,
    folds: int = 5,
    model: str = "logreg",
    large: Optional[LargeData] = None,
    max_dim=None,
    speed: Optional[float] = None,
) -> dict:
    """Seconds :func:`core.compute_scores` will take for ``names`` on data of this shape, before it runs.

    Parameters
    ----------
    names : str, Scorer or iterable of them
        Scorer names (``"a,b"`` or a list; configured scorers too), in the order they will run.
    n_rows, n_features, n_classes : int
        Shape of the data as it will be scored (``ds.n_samples``, ``ds.n_features``, ``ds.n_classes``).
    folds, model, large
        As for :func:`core.compute_scores`.
    max_dim : "auto", int or None
        Set when ``n_features`` is the raw width and loading will still reduce it with PCA (as
        :func:`core.load_dataset` does): the PCA is added and the scorers priced at the reduced width.
    speed : float, optional
        Machine factor (this machine's time over the reference's); default :func:`machine_factor`.

    Returns
    -------
    dict
        ``total`` (seconds), ``scorers`` (name to seconds, shared work charged to the first scorer
        that needs it), ``parts`` (piece of work to seconds), ``neighbors`` ("exact", "approximate"
        or None), ``features`` (width scored) and ``machine_factor``.

    Raises
    ------
    ConfigError
        For an unknown scorer name (the message lists the valid ones) or an impossible shape.
    """
    scorers = _scorers(names)
    _validate_shape(n_rows, n_features, n_classes, folds, model)
    large = large or LargeData()
    factor = machine_factor() if speed is None else float(speed)
    plan, width = [], int(n_features)
    reduce_to = resolve_max_dim(max_dim, int(n_features), int(n_rows))
    if reduce_to:
        reduce_to = min(reduce_to, int(n_rows))
        plan.append(("", "pca", "pca", _seconds("pca", pca_units(int(n_rows), int(n_features), reduce_to))))
        width = reduce_to
    plan += _plan(scorers, int(n_rows), width, int(n_classes), int(folds), model, large)
    trains = [name for name, _, group, _ in plan if group == "mlp"]
    if trains and "torch" not in sys.modules:  # the first training in a fresh process imports torch
        plan.append((trains[0], "importing torch", "", coefficients()["torch_import_seconds"]))
    per_scorer = {scorer.name: 0.0 for scorer in scorers}
    parts: dict = {}
    for name, piece, _, seconds in plan:
        seconds *= factor
        parts[piece] = parts.get(piece, 0.0) + seconds
        if name:
            per_scorer[name] += seconds
    uses_graph = any("neighbors" in piece for piece in parts)
    return {"total": sum(parts.values()), "scorers": per_scorer, "parts": parts, "features": width,
            "neighbors": ("approximate" if n_rows > large.approximate_above else "exact") if uses_graph else None,
            "machine_factor": factor}


def describe_seconds(seconds: float) -> str:
    """``"about 40 s (0.7 min)"``: a rounded duration a person reads at a glance."""
    if seconds < 1.0:
        return "under a second"
    shown = float(f"{seconds:.2g}") if seconds < 100 else round(seconds, -1)
    return f"about {shown:g} s ({seconds / 60:.1f} min)"
