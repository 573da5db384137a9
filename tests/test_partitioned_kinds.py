"""Every strategy kind that declares a partitioned half, on both engines, and the manifests written before
the rules were typed.

* ``test_old_manifests_still_apply``: manifests written by the code of 8adf9a7 (the 27-key rule dicts,
  ``tests/fixtures/partitioned_v1``) re-apply to the same rows with today's typed rules.
* ``test_kind_on_both_engines``: each kind with a partitioned half runs through ``core.select`` on the
  data in memory and through ``select_partitioned`` on the same rows split in three Parquet partitions;
  what must agree is checked (kept count, counts per class / bin, cuts, flags, dropped tails). The rows
  drawn among ties or at random may differ by construction (memory breaks ties with a seeded
  permutation, partitions in data order or by a per-row hash); each case says what it checks.
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
