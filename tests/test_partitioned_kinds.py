"""Every strategy kind that declares a partitioned half, on both engines, and the manifests written before
the rules were typed.

* ``test_old_manifests_still_apply``: manifests written by the code of 8adf9a7 (the 27-key rule dicts,
  ``tests/fixtures/partitioned_v1``) re-apply to the same rows with today's typed rules.
* ``test_kind_on_both_engines``: each kind with a partitioned half runs through ``core.select`` on the
  data in memory and through ``select_partitioned`` on the same rows split in three Parquet partitions;
  what must agree is checked (kept count, counts per class / bin, cuts, flags, dropped tails), and,
  since both engines draw random rows and break ties by the same per-row hash of (seed, row position),
  the very rows wherever the partitioned rule is exact. Scorecard's histogram percentiles are a stated
  approximation: on continuous scores its rows may differ a little (Jaccard >= 0.95 checked).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core
from core.data.partitions import load_partitioned
from core.foundation.errors import ConfigError, ManifestError
from core.selection import Recipe
from core.selection.partitioned import memory_only_kinds, partitioned_kinds, rule_from_dict
from core.workflows import SerialEngine, apply_partitioned, select_partitioned

FIXTURE = Path(__file__).parent / "fixtures" / "partitioned_v1"


@pytest.mark.parametrize("name", sorted(p.stem for p in (FIXTURE / "manifests").glob("*.json")))
def test_old_manifests_still_apply(name, tmp_path):
    document = json.loads((FIXTURE / "manifests" / f"{name}.json").read_text())
    rule = rule_from_dict(document["rule"])
    assert {k: v for k, v in rule.to_dict().items()} == {k: v for k, v in document["rule"].items() if v is not None}
    applied = apply_partitioned(FIXTURE / "manifests" / f"{name}.json", FIXTURE / "data", tmp_path / "kept",
                                scores=FIXTURE / "scores", engine=SerialEngine())
    kept = sorted(pd.read_parquet(tmp_path / "kept")["rid"])
    assert kept == json.loads((FIXTURE / "kept_ids.json").read_text())[name]
    assert applied["n_kept"] == document["n_kept"] == len(kept)


def test_unknown_or_broken_rule_is_one_manifest_error(tmp_path):
    document = json.loads((FIXTURE / "manifests" / "top.json").read_text())
    for rule in ({"kind": "band-of-gold"}, {"kind": "coverage"}, "top"):
        (tmp_path / "m.json").write_text(json.dumps(dict(document, rule=rule)))
        with pytest.raises(ManifestError):
            apply_partitioned(tmp_path / "m.json", FIXTURE / "data", tmp_path / "out", scores=FIXTURE / "scores")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ every kind with a partitioned half, both engines

ROWS, SIZES = 1800, (800, 600, 400)


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """The same rows in memory (``load_partitioned``) and as three Parquet partitions, with their scores."""
    root = tmp_path_factory.mktemp("kinds")
    generator = np.random.default_rng(5)
    y = generator.integers(0, 3, ROWS)
    frame = pd.DataFrame(generator.normal(size=(ROWS, 4)) + y[:, None], columns=[f"f{i}" for i in range(4)])
    frame["label"] = np.array(["ant", "bee", "cat"])[y]
    frame["rid"] = [f"r{i:05d}" for i in range(ROWS)]
    el2n = generator.gamma(2.0, 1.0, ROWS)  # continuous, with NaN
    el2n[generator.choice(ROWS, 20, replace=False)] = np.nan
    scores = pd.DataFrame({"id": frame["rid"], "label": frame["label"], "el2n": el2n,
                           "knn_density": np.round(generator.normal(size=ROWS), 1),  # many ties
                           "label_noise": np.round(generator.random(ROWS), 2),  # 101 values: exact percentiles
                           "datamap_variability": np.round(generator.random(ROWS), 2)})
    scores["label_noise_flag"] = scores["label_noise"] > 0.9
    for name, table in (("data", frame), ("scores", scores)):
        (root / name).mkdir()
        for number, (start, stop) in enumerate(zip(np.cumsum((0,) + SIZES[:-1]), np.cumsum(SIZES))):
            table.iloc[start:stop].to_parquet(root / name / f"part-{number}.parquet", index=False)
    ds = load_partitioned(root / "data", store=root / "store", label="label", id="rid")
    return {"root": root, "ds": ds, "scores": scores.drop(columns=["label"]).set_index("id")}


def _values(split, name: str, ids) -> np.ndarray:
    return np.sort(split["scores"].loc[list(ids), name].to_numpy())


def _per_class(split, ids) -> dict:
    labels = pd.Series(split["ds"].classes[split["ds"].y], index=split["ds"].ids)
    return labels.loc[list(ids)].value_counts().to_dict()


def _jaccard(a, b) -> float:
    return len(set(a) & set(b)) / len(set(a) | set(b))


def _top(split, memory, parts, rule):  # exact cut: the kept values are the same multiset, tied rows may differ
    assert np.array_equal(_values(split, "knn_density", memory), _values(split, "knn_density", parts), equal_nan=True)


def _same_rows(split, memory, parts, rule):  # no ties and no draw: the very same rows
    assert set(memory) == set(parts)


def _count_only(split, memory, parts, rule):  # the rows are drawn: only the count must agree
    assert len(memory) == len(parts)


def _class_counts(split, memory, parts, rule):  # the same quota per class; the rows in a class are drawn
    assert _per_class(split, memory) == _per_class(split, parts)


def _ccs(split, memory, parts, rule):  # same bins and count per bin; rows inside a bin are drawn (hash vs permutation)
    hardness = split["scores"]["el2n"]
    edges = np.asarray(rule["edges"])

    def per_bin(ids):
        values = np.nan_to_num(hardness.loc[list(ids)].to_numpy(), nan=rule["top"])
        return np.bincount(np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2),
                           minlength=len(edges) - 1).tolist()

    assert per_bin(memory) == per_bin(parts) and dict(zip(rule["bins_used"], rule["bin_taken"])) == {
        b: t for b, t in enumerate(per_bin(memory)) if t}


def _per_class_values(name):  # same quota per class; within a class the same values (ties may differ)
    def check(split, memory, parts, rule):
        assert _per_class(split, memory) == _per_class(split, parts)
        labels = pd.Series(split["ds"].classes[split["ds"].y], index=split["ds"].ids)
        for label in labels.unique():
            mine = [i for i in memory if labels[i] == label]
            theirs = [i for i in parts if labels[i] == label]
            assert np.array_equal(_values(split, name, mine), _values(split, name, theirs), equal_nan=True)
    return check


def _scorecard(split, memory, parts, rule):  # exact where each histogram bin holds one value (these scores)
    from core.selection.algorithms import scorecard_values

    combined = pd.Series(scorecard_values([split["scores"]["knn_density"].to_numpy(),
                                           -split["scores"]["label_noise"].to_numpy()], [2.0, 1.0]),
                         index=split["scores"].index)
    assert np.array_equal(np.sort(combined[list(memory)]), np.sort(combined[list(parts)]))


def _scorecard_approximate(split, memory, parts, rule):  # continuous el2n: percentiles off by < half a bin's share
    assert len(memory) == len(parts) and _jaccard(memory, parts) >= 0.95


def _moderate(split, memory, parts, rule):  # same quotas; closeness is continuous, so nearly the same rows
    assert _per_class(split, memory) == _per_class(split, parts) and _jaccard(memory, parts) >= 0.98


def _and_same_rows(check):  # what must agree, and then the very rows (ties and draws by the same hash)
    def both(split, memory, parts, rule):
        check(split, memory, parts, rule)
        _same_rows(split, memory, parts, rule)
    return both


#: kind -> cases (strategy, options, what must agree). Every kind that declares a partitioned half has one.
CASES = {
    "top": [("knn_density", {"keep": 0.3}, _and_same_rows(_top)), ("el2n", {"threshold": 2.5}, _same_rows)],
    "random": [("random", {"keep": 0.2}, _and_same_rows(_count_only))],
    "drop-flagged": [("drop-flagged:label_noise", {}, _same_rows)],
    "ccs": [("ccs:el2n:bins=12", {"keep": 0.3}, _and_same_rows(_ccs)),
            ("ccs:knn_density:beta=0.2:bins=7:hard=low", {"keep": 0.25}, _and_same_rows(_count_only))],
    "balanced": [("balanced:knn_density", {"keep": 0.25}, _and_same_rows(_per_class_values("knn_density"))),
                 ("balanced:random:mode=equal", {"keep": 0.2}, _and_same_rows(_class_counts))],
    "band": [("band:knn_density", {}, _and_same_rows(_top)),
             ("band:knn_density:low=0.2:high=0.1", {"keep": 0.5}, _and_same_rows(_top))],
    "scorecard": [("scorecard:knn_density=2,label_noise:low=1", {"keep": 0.3}, _and_same_rows(_scorecard)),
                  ("scorecard:el2n,knn_density", {"keep": 0.4}, _scorecard_approximate)],
    "moderate": [("moderate", {"keep": 0.3}, _moderate)],
    "ambiguous": [("ambiguous", {"keep": 0.3}, _and_same_rows(_per_class_values("datamap_variability")))],
}


def test_every_kind_with_a_partitioned_half_has_a_case():
    assert set(CASES) == {kind.name for kind in partitioned_kinds()}
    assert {kind.name for kind in memory_only_kinds()} >= {"d2", "auto"}


@pytest.mark.parametrize("kind,number", [(kind, n) for kind, cases in CASES.items() for n in range(len(cases))])
def test_kind_on_both_engines(split, kind, number):
    strategy, options, check = CASES[kind][number]
    root = split["root"]
    memory = core.select(split["ds"], split["scores"], strategy=strategy, seed=3, **options)
    document = select_partitioned(root / "data", root / "scores", root / f"kept-{kind}-{number}",
                                  root / f"{kind}-{number}.json", strategy=Recipe.of(strategy, seed=3, **options),
                                  label="label", id="rid", engine=SerialEngine())
    parts = pd.read_parquet(root / f"kept-{kind}-{number}")["rid"].tolist()
    assert document["rule"]["kind"] == kind and document["n_kept"] == memory.n_kept == len(parts)
    check(split, list(split["ds"].ids[memory.mask]), parts, document["rule"])
    rule = rule_from_dict(json.loads((root / f"{kind}-{number}.json").read_text())["rule"])
    assert rule.to_dict() == document["rule"]  # the manifest's rule block reads back as the same typed rule


def test_memory_only_kind_is_named_from_the_registry(split):
    root = split["root"]
    names = ", ".join(kind.name for kind in memory_only_kinds())
    with pytest.raises(ConfigError, match=f"\\({names}\\) run in memory only"):
        select_partitioned(root / "data", root / "scores", root / "never", root / "never.json",
                           strategy="d2:el2n", keep=0.3, label="label", id="rid")
    assert not (root / "never").exists() and not (root / "never.json").exists()


def test_memory_random_draw_is_a_uniform_permutation_by_the_partitions_hash():
    """The in-memory random rank is the per-row hash partitions draw, and as good a random order as the
    permutation it replaced: a permutation, nested across budgets, unrelated to row position."""
    from scipy.stats import chisquare, spearmanr

    from core.data.partitions import row_uniforms
    from core.selection.algorithms import RANDOM_STREAM, random_mask, random_priority

    n = 20_000
    priority = random_priority(n, 7)
    assert np.array_equal(np.sort(priority), np.arange(n)) and not priority.flags.writeable
    draws = row_uniforms(7, np.arange(n), RANDOM_STREAM)
    assert np.array_equal(np.argsort(priority), np.argsort(-draws))  # lowest rank = largest draw
    small, large = random_mask(n, 3_000, 7), random_mask(n, 6_000, 7)
    assert small.sum() == 3_000 and large.sum() == 6_000 and not (small & ~large).any()
    assert abs(spearmanr(priority, np.arange(n))[0]) < 0.03
    assert chisquare(np.bincount(np.flatnonzero(small) * 20 // n, minlength=20)).pvalue > 0.001
    assert not np.array_equal(random_priority(n, 8), priority)


def test_class_quota_modifier_is_refused_on_partitions(split):
    """``<strategy>:quota=...`` is planned in memory only; on partitions it is one clear error, not a selection
    that silently ignores the quotas."""
    root = split["root"]
    with pytest.raises(ConfigError, match="quota"):
        select_partitioned(root / "data", root / "scores", root / "quota", root / "quota.json",
                           strategy="el2n:quota=equal", keep=0.3, label="label", id="rid")
    assert not (root / "quota").exists() and not (root / "quota.json").exists()
