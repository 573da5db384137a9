"""``apply`` for partitioned selections: re-run a manifest's recorded rule on the same partitioned data.

A partitioned manifest (``kind: "partitioned selection"``, written by
:func:`core.workflows.select_partitioned`) records its typed rule - the cut and the rows tied at it
per partition, or CCS's bin edges, allocation and within-bin cuts, or the flags - instead of a list of
kept ids, which would grow with the data. Re-applying reads the rule back with its kind's
``from_dict`` (:func:`core.selection.partitioned.rule_from_dict`; rule blocks written before rules
were typed have the same keys), rebuilds each partition's mask with the kind's partitioned half and
writes the kept rows through the same writer as ``select``, so the files are the same. The data must be the data the
manifest was made from (same fingerprint) and the scores the same scores (same fingerprint).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from core.data.partitions import is_partitioned, open_partitioned
from core.foundation.errors import ConfigError, ManifestError
from core.selection.partitioned import Partitions, half_of, rule_from_dict
from core.workflows.partitioned.engine import SerialEngine
from core.workflows.partitioned.selecting import MANIFEST_KIND, check_scores, scores_fingerprint, write_kept

_REQUIRED = ("rule", "seed", "columns", "data_fingerprint", "scores", "scores_fingerprint", "n_kept", "n_input")
_MAX_BYTES = 64 * 2**20


def read_json(path) -> Optional[dict]:
    """The JSON object in ``path``, or None when it is missing, too large or not a JSON object."""
    path = Path(path)
    try:
        if not path.is_file() or path.stat().st_size > _MAX_BYTES:
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def is_partitioned_manifest(path) -> bool:
    """Whether ``path`` holds a manifest of a partitioned selection."""
    document = read_json(path)
    return document is not None and document.get("kind") == MANIFEST_KIND


def _read_partitioned_manifest(path) -> dict:
    document = read_json(path)
    if document is None or document.get("kind") != MANIFEST_KIND:
        raise ManifestError(f"{path} is not a partitioned selection manifest; use the .json written by "
                            "`workbench select` on partitioned data.")
    missing = [key for key in _REQUIRED if key not in document]
    if missing or not isinstance(document["rule"], dict) or half_of(str(document["rule"].get("kind"))) is None:
        raise ManifestError(f"{Path(path).name} lacks {missing or ['a known rule']} (written by an older workbench); "
                            "select again with `workbench select` to get a manifest apply can re-run.")
    return document


def _check_same(document: dict, data, scores, engine) -> None:
    if data.fingerprint != document["data_fingerprint"]:
        raise ManifestError(
            f"The data differ from the ones the manifest was made from ({data.n_samples} rows in "
            f"{len(data.partitions)} partitions; the manifest's had {document['n_input']} rows in "
            f"{document.get('partitions', '?')}). Apply it to the original data, or select on these data with "
            "`workbench select` (a partitioned rule is fixed by the data it was computed on, so --force does not "
            "apply).")
    if scores_fingerprint(scores, engine) != document["scores_fingerprint"]:
        raise ManifestError(f"The scores in {scores} are not the ones the selection used ({document['scores']}); "
                            "pass those with --scores, or select again with these scores.")


def apply_partitioned(manifest, source, out, *, scores=None, engine=None, force: bool = False) -> dict:
    """Re-apply a partitioned selection manifest to partitioned data and write the kept rows.

    Parameters
    ----------
    manifest : str or Path
        The JSON manifest ``select`` wrote for partitioned data.
    source : str or Path
        The data it was made from (a folder or glob of Parquet files).
    out : str or Path
        New folder for the kept rows (one file per input partition), written atomically.
    scores : str or Path, optional
        The scores folder (default: the one recorded in the manifest).
    engine : SerialEngine or DaskEngine, optional
    force : bool
        Not supported for partitioned manifests (a ConfigError says why).

    Returns
    -------
    dict
        ``kind``, ``manifest``, ``n_input``, ``n_kept``, ``kept_rows``, ``engine``.
    """
    if force:
        raise ConfigError("--force does not apply to a partitioned manifest: its rule (cut, ties, bins) was fixed "
                          "on the data it was made from and has no id list to match. Select on the new data with "
                          "`workbench select` instead.")
    engine = engine or SerialEngine()
    out = Path(out)
    if out.exists():
        raise ConfigError(f"{out} already exists; choose a new folder for the kept rows (nothing was written).")
    document = _read_partitioned_manifest(manifest)
    columns = document["columns"]
    data = open_partitioned(source, label=columns["label"], id=columns["id"], features=columns["features"],
                            map=engine.map)
    if scores is None and not is_partitioned(document["scores"]):
        raise ManifestError(f"The scores the manifest records ({document['scores']}) are not there (moved, or a "
                            "relative path from another folder); pass the scores folder with --scores.")
    scores = scores if scores is not None else document["scores"]
    scores_files = check_scores(data, scores)
    _check_same(document, data, scores, engine)
    rule = rule_from_dict(document["rule"])
    where = Partitions(data, scores_files, int(document["seed"]))
    return write_kept(where, rule, out, engine, lambda n_kept: _record(document, manifest, data, out, engine, n_kept))


def _record(document: dict, manifest, data, out: Path, engine, n_kept: int) -> dict:
    if n_kept != document["n_kept"]:  # the writer's check: raised before the rename, so nothing is left
        raise ManifestError(f"Re-applying kept {n_kept} rows where the selection kept {document['n_kept']}; the data "
                            "or scores changed while reading. Run apply again.")
    return {"kind": "partitioned apply", "manifest": str(manifest), "strategy": document.get("strategy"),
            "n_input": data.n_samples, "n_kept": int(n_kept), "kept_rows": str(out),
            "engine": dict(engine.description)}
