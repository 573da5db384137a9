"""Export a selection (kept rows + JSON manifest) and re-apply a manifest to data.

The kept rows are written with every original column in its original order, optionally followed
by score columns. The manifest records everything needed to re-apply the selection exactly: the
kept ids (in data order), the data's fingerprint and the options it was loaded with, the strategy
and its parameters, the seed, package versions and the cross-validated estimate.

Files are written atomically by :mod:`core.outputs.files`: to temporary files in the destination
folder, renamed into place only once all of them are complete; missing folders are created.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import pandas as pd

from core.data.dataset import Dataset, fingerprint_frame
from core.data.loading import load_dataset
from core.foundation.errors import ConfigError, ManifestError
from core.outputs.rows import kept_frame, kept_positions
from core.outputs.schema import duplicated_ids, validate_manifest
from core.outputs.files import commit, discard, json_writer, stage, table_format, table_writer, to_jsonable, write_table
from core.selection.subset import Selection

MANIFEST_FORMAT = "data-pruning-workbench/manifest"
MANIFEST_SCHEMA = 1
MAX_MANIFEST_BYTES = 256 * 2**20
_PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "torch", "pyarrow")
_KIND_TO_FEATURIZER = {"tabular": "tabular", "array": "tabular", "embedding": "embedding", "text": "text",
                       "image": "image"}


# -------------------------------------------------------------------------------------- manifest
def package_versions() -> dict:
    """Versions of Python and the numeric packages that shape results."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def load_options(ds: Dataset) -> dict:
    """The ``load_dataset`` keyword arguments that rebuild ``ds`` (and its fingerprint) from its file."""
    settings = ds.settings or {}
    options = {
        "label": ds.label_column,
        "id": ds.id_column,
        "features": settings.get("features"),
        "text": ds.text_column,
        "featurizer": _KIND_TO_FEATURIZER.get(ds.kind, "auto"),
        "image_size": settings.get("image_size", 16),
        "max_dim": settings.get("max_dim"),
        "drop_missing_labels": bool(settings.get("drop_missing_labels", False)),
    }
    if settings.get("text_method"):
        options["text_method"] = settings["text_method"]
    if settings.get("encoding"):
        options["encoding"] = settings["encoding"]
    return options


def data_summary(ds: Dataset, options: Optional[dict] = None) -> dict:
    """What the manifest says about the data, so that a mismatch can be explained precisely."""
    counts = ds.class_counts()
    return {
        "source": Path(ds.source).name if ds.source else None,
        "kind": ds.kind,
        "n_rows": ds.n_samples,
        "n_features": ds.n_features,
        "columns": [str(c) for c in ds.frame.columns],
        "label_column": ds.label_column,
        "id_column": ds.id_column,
        "classes": [to_jsonable(c) for c in ds.classes],
        "class_counts": {str(k): int(v) for k, v in counts.items()},
        "rows_fingerprint": fingerprint_frame(ds.frame, {}),
        "load_options": options if options is not None else load_options(ds),
        # rows drawn from a larger (partitioned) data set: which sample, of what, with which seed
        **({"sample": ds.settings["sample"]} if (ds.settings or {}).get("sample") else {}),
    }


def manifest_document(ds: Dataset, sel, comparison=None, scores_meta=None, *, load=None, created=None,
                      columns=None) -> dict:
    """The JSON-able manifest of a selection.

    Parameters
    ----------
    ds : Dataset
        The data the selection was made on.
    sel : Selection
    comparison : dict, optional
        ``core.estimate(ds, sel, ...)``: the CV estimate of the selection against the full data
        and random subsets of the same size.
    scores_meta : list of dict, optional
        The scorers used, with their parameters (name, params, seed, folds...).
    load : dict, optional
        The ``load_dataset`` options used; derived from ``ds`` when omitted.
    created : str, optional
        ISO timestamp; now (UTC) when omitted.
    columns : dict, optional
        A column cut (``core.columns.columns_block``: ``kept``, ``dropped``, ``method``,
        ``estimate``), recorded as the ``columns`` block; export and apply then leave out ``dropped``.

    Returns
    -------
    dict
        Keys include ``kept_ids`` (data order), ``n_input``, ``n_kept``, ``strategy``,
        ``resolved_strategy``, ``params``, ``keep``, ``threshold``, ``seed``, ``data_fingerprint``,
        ``version``, ``created``, ``packages``, ``data``, ``scorers``, ``estimate`` and, with an estimate,
        ``folds`` (the fold rule and the number of duplicate groups kept whole).
    """
    kept_ids = [to_jsonable(i) for i in ds.ids[kept_positions(ds, sel)]]
    details = dict(getattr(sel, "details", None) or {})
    details.pop("row_order", None)
    params = getattr(sel, "params", None) or {}
    head = manifest_head(strategy=sel.strategy, keep=sel.keep, threshold=sel.threshold, seed=sel.seed,
                         n_input=ds.n_samples, n_kept=len(kept_ids), data_fingerprint=ds.fingerprint,
                         scorers=scores_meta, rule={"kind": sel.resolved_recipe.kind, **params}, created=created)
    return to_jsonable({
        **head,
        "data": data_summary(ds, load),
        "resolved_strategy": getattr(sel, "resolved_strategy", None) or sel.strategy,
        "params": params,
        "kept_fraction": round(len(kept_ids) / ds.n_samples, 6),
        "estimate": _estimate_block(comparison),
        **_folds_record(comparison),
        "details": details,
        **({"columns": columns} if columns else {}),
        "kept_ids": kept_ids,
    })


def manifest_head(*, strategy: str, keep, threshold, seed: int, n_input: int, n_kept: int, data_fingerprint: str,
                  scorers, rule: dict, created: Optional[str] = None) -> dict:
    """What every manifest records, in memory and on partitions: format and versions, when, the package
    versions, the recipe (strategy, keep, threshold, seed), the counts, the data's fingerprint, the
    scorers and the ``rule`` block (the kind and what it ran with: on partitions the kind's typed rule
    that ``apply`` re-runs, in memory the kind and its parameters; in-memory ``apply`` uses the kept ids).
    """
    return {
        "format": MANIFEST_FORMAT,
        "version": {"workbench": _workbench_version(), "manifest_schema": MANIFEST_SCHEMA},
        "created": created or _now(),
        "packages": package_versions(),
        "data_fingerprint": data_fingerprint,
        "strategy": strategy,
        "keep": keep,
        "threshold": threshold,
        "seed": int(seed),
        "n_input": int(n_input),
        "n_kept": int(n_kept),
        "scorers": list(scorers or []),
        "rule": rule,
    }


def dropped_columns(manifest: Optional[dict]) -> list:
    """The feature columns a column cut removed (the manifest's optional ``columns`` block)."""
    block = (manifest or {}).get("columns") or {}
    return [str(c) for c in block.get("dropped") or []]


def _now() -> str:
    """ISO 8601 UTC timestamp to the second, e.g. ``2025-01-31T12:00:00Z``."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _estimate_block(comparison) -> Optional[dict]:
    if comparison is None:
        return None
    block = to_jsonable(comparison)
    if not isinstance(block, dict):
        return {"value": block}
    # differences in accuracy points are what a reader compares; fractions are kept as given
    deltas = {key: round(100 * block[key], 4) for key in ("vs_random", "vs_full") if isinstance(block.get(key), float)}
    worst = block.get("worst_class")
    if isinstance(worst, dict) and isinstance(worst.get("vs_random"), float):
        deltas["worst_class_vs_random"] = round(100 * worst["vs_random"], 4)
    if deltas:
        block["delta_points"] = deltas
    return block


def _folds_record(comparison) -> dict:
    """``folds``: how the estimate's folds were made (rule in words, duplicate groups kept whole, rows in
    them) and ``interval_method``; absent when there is no estimate (older manifests lack them too)."""
    if not isinstance(comparison, dict) or not isinstance(comparison.get("fold_rule"), dict):
        return {}
    rule = comparison["fold_rule"]
    return {"folds": {"count": comparison.get("folds"), "seed": comparison.get("seed"), "rule": rule.get("rule"),
                      "duplicate_groups": rule.get("groups"), "grouped_rows": rule.get("grouped_rows")}}


def _workbench_version() -> str:
    from core import __version__

    return __version__


def write_selection(ds: Dataset, sel, path, manifest=None, scores=None, include_scores: bool = False,
                    estimate=None, *, scores_meta=None, load=None, formula_safe: bool = False,
                    columns=None) -> Optional[dict]:
    """Write the kept rows (CSV or Parquet by extension) and, if asked, the manifest.

    Parameters
    ----------
    ds : Dataset
    sel : Selection
    path : str or Path
        Where the kept rows go; ``.csv``, ``.tsv``, ``.parquet`` or ``.pq``.
    manifest : str or Path, optional
        Where the JSON manifest goes.
    scores : DataFrame, optional
        ``compute_scores`` output (indexed by id); appended when ``include_scores``.
    estimate : dict, optional
        ``core.estimate(ds, sel, ...)``, recorded in the manifest.
    columns : dict, optional
        A column cut (see :func:`manifest_document`): its dropped columns are left out of the rows.

    Returns
    -------
    dict or None
        The manifest that was written, if any.

    Both files are built in memory and written to temporary files first; the data are renamed
    into place only once everything else succeeded.
    """
    table_format(path)
    if manifest is not None:
        _check_json_path(manifest)
    frame = kept_frame(ds, sel, scores, include_scores).drop(columns=dropped_columns({"columns": columns}),
                                                             errors="ignore")
    document = manifest_document(ds, sel, estimate, scores_meta, load=load, columns=columns) if manifest is not None else None
    staged: list = []
    try:
        staged.append((stage(path, table_writer(frame, path, formula_safe=formula_safe)), path))
        if document is not None:
            staged.append((stage(manifest, json_writer(document)), manifest))
    except BaseException:
        discard(staged)
        raise
    commit(staged)
    return document


def _check_json_path(path) -> None:
    if Path(path).suffix.lower() != ".json":
        raise ConfigError(f"{Path(path).name}: the manifest must be a .json file.")


# ------------------------------------------------------------------------------------- re-apply
def read_manifest(path: Union[str, Path]) -> dict:
    """Read and check a manifest file; ManifestError when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"Manifest {path} does not exist. Pass the .json written by `workbench select --manifest`.")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{path.name} is larger than {MAX_MANIFEST_BYTES // 2**20} MB, more than any manifest. "
                            "Use the manifest written by `workbench select`.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "nested too deeply"
        raise ManifestError(f"{path.name} is not valid JSON ({reason}). "
                            "Use the manifest written by `workbench select`.") from None
    return check_manifest(document, name=path.name)


def check_manifest(document: Any, name: str = "the manifest") -> dict:
    """``document`` when it is a manifest this workbench can apply (schema checked first, see
    :mod:`core.outputs.schema`); ManifestError naming what is wrong otherwise."""
    schema = document.get("version", {}).get("manifest_schema", 1) if isinstance(document, dict) and \
        isinstance(document.get("version"), dict) else 1
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > MANIFEST_SCHEMA:
        raise ManifestError(f"{name} has manifest schema {schema}; this workbench reads up to {MANIFEST_SCHEMA}. "
                            "Upgrade the workbench.")
    return validate_manifest(document, name)


def load_for_manifest(manifest: dict, data, **overrides) -> Dataset:
    """Load ``data`` with the options recorded in the manifest, so fingerprints are comparable."""
    options = dict((manifest.get("data") or {}).get("load_options") or {})
    options.update(overrides)
    options.setdefault("min_rows_per_class", 1)  # re-applying needs no cross-validation
    return load_dataset(data, **options)


def manifest_differences(manifest: dict, ds: Dataset) -> list:
    """Plain-language reasons why ``ds`` is not the data the manifest was made from."""
    info = manifest.get("data") or {}
    reasons = []
    if info.get("n_rows") is not None and info["n_rows"] != ds.n_samples:
        reasons.append(f"{ds.n_samples} rows instead of {info['n_rows']}")
    columns = info.get("columns")
    if columns is not None and columns != [str(c) for c in ds.frame.columns]:
        added = [c for c in ds.frame.columns if str(c) not in columns]
        removed = [c for c in columns if c not in [str(c) for c in ds.frame.columns]]
        parts = [f"new columns {added[:5]}"] if added else []
        parts += [f"missing columns {removed[:5]}"] if removed else []
        reasons.append(", ".join(parts) or "the columns are in a different order")
    wanted = {str(i) for i in manifest["kept_ids"]}
    absent = len(wanted - {str(i) for i in ds.ids})
    if absent:
        reasons.append(f"{absent} of the {len(wanted)} kept ids are not in the data")
    if not reasons:
        same_rows = info.get("rows_fingerprint") == fingerprint_frame(ds.frame, {})
        reasons.append("the rows are identical but were featurized differently (another workbench version "
                       "or loading options)" if same_rows else "some values or labels differ")
    return reasons


def apply_manifest(manifest, data, force: bool = False):
    """Re-apply a manifest: the same kept ids, in the same order, on the same data.

    Parameters
    ----------
    manifest : dict or str or Path
        A manifest dict or the path of its JSON file.
    data : Dataset, str, Path or DataFrame
        The data; a path or frame is loaded with the options recorded in the manifest.
    force : bool
        Without it, data whose fingerprint differs from the manifest's are refused with a
        ManifestError that says what differs. With it, the rows whose ids appear in the manifest
        are kept, in the manifest's order; ids missing from the data are skipped and listed in
        ``details["missing_ids"]``. Still an error when none of the ids is present.

    Returns
    -------
    Selection
        ``details`` holds ``forced``, ``fingerprint_matches``, ``differences`` and ``missing_ids``.
    """
    if not isinstance(manifest, dict):
        manifest = read_manifest(manifest)
    else:
        manifest = check_manifest(manifest)
    ds = data if isinstance(data, Dataset) else load_for_manifest(manifest, data)
    matches = manifest["data_fingerprint"] == ds.fingerprint
    differences = [] if matches else manifest_differences(manifest, ds)
    if not matches and not force:
        raise ManifestError(
            "The data differ from the ones the manifest was made from: " + "; ".join(differences) + ". "
            "Apply it to the original data, or pass --force (force=True) to keep the rows whose ids are in the "
            "manifest."
        )
    positions, missing, repeated = _match_ids(manifest["kept_ids"], ds)
    if not positions:
        raise ManifestError("None of the manifest's kept ids are in the data. Check that the id column is the same.")
    if (missing or repeated) and not force:
        raise ManifestError(_id_problems(missing, repeated, len(manifest["kept_ids"])) + " Apply it to the data "
                            "it was made from, or pass --force (force=True) to skip those ids.")
    mask = np.zeros(ds.n_samples, dtype=bool)
    mask[positions] = True
    details = {"forced": bool(force and not (matches and not missing and not repeated)),
               "fingerprint_matches": matches, "differences": differences, "missing_ids": missing,
               "duplicate_ids": repeated, "applied_from": manifest.get("data_fingerprint"),
               "row_order": "manifest"}
    return Selection(
        mask=mask, kept_ids=np.asarray([ds.ids[p] for p in positions], dtype=object),
        strategy=manifest["strategy"], resolved_strategy=manifest.get("resolved_strategy") or manifest["strategy"],
        params=manifest.get("params") or {}, keep=manifest.get("keep"), threshold=manifest.get("threshold"),
        seed=manifest.get("seed"), data_fingerprint=ds.fingerprint, n_input=ds.n_samples, n_kept=len(positions),
        details=details,
    )


def _match_ids(kept_ids: list, ds: Dataset) -> tuple:
    """(positions in manifest order, ids not in the data, ids listed more than once)."""
    lookup = {str(i): position for position, i in enumerate(ds.ids)}
    positions, missing, seen = [], [], set()
    for kept_id in kept_ids:
        position = lookup.get(str(kept_id))
        if position is None:
            missing.append(kept_id)
        elif position not in seen:
            seen.add(position)
            positions.append(position)
    return positions, missing, duplicated_ids(kept_ids)


def _id_problems(missing: list, repeated: list, total: int) -> str:
    parts = [f"{len(missing)} of its {total} kept ids are not in the data (e.g. {missing[:5]})"] if missing else []
    parts += [f"{len(repeated)} id(s) are listed more than once (e.g. {repeated[:5]})"] if repeated else []
    return "The manifest does not fit the data: " + "; ".join(parts) + "."


def apply_and_export(manifest_path, data, out, force: bool = False, formula_safe: bool = False,
                     **load_overrides) -> tuple:
    """Read a manifest, apply it to ``data`` (a path) and write the kept rows to ``out``.

    Returns ``(selection, dataset)``.
    """
    table_format(out)
    manifest = read_manifest(manifest_path)
    ds = load_for_manifest(manifest, data, **load_overrides)
    sel = apply_manifest(manifest, ds, force=force)
    frame = kept_frame(ds, sel).drop(columns=dropped_columns(manifest), errors="ignore")  # rows and columns
    write_table(frame, out, formula_safe=formula_safe)
    return sel, ds



# ------------------------------------------------------------------------------ partitioned selections
#: ``kind`` of a manifest that records a partitioned selection's rule instead of its kept ids.
PARTITIONED_KIND = "partitioned selection"


def partitioned_manifest(data, recipe, rule, *, engine: dict, kept_rows, n_kept: int, sample, scores,
                         scores_fingerprint: str, scorers: list) -> dict:
    """The manifest of a partitioned selection: :func:`manifest_head` (the recipe, counts and ``rule``
    block, as in memory), then the partitions, columns, engine, sample, kept rows and scores.

    ``rule`` is the kind's typed rule (:class:`core.selection.partitioned.Rule`); its ``to_dict`` is
    the ``rule`` block ``apply`` re-runs. A list of every kept id would grow with the data, so the
    manifest points at the kept rows' folder instead (``kept_ids``).
    """
    head = manifest_head(strategy=recipe.text, keep=recipe.keep, threshold=recipe.threshold, seed=recipe.seed,
                         n_input=data.n_samples, n_kept=n_kept, data_fingerprint=data.fingerprint, scorers=scorers,
                         rule=rule.to_dict())
    return to_jsonable({
        **head, "kind": PARTITIONED_KIND, "partitions": len(data.partitions),
        "columns": {"label": data.label, "id": data.id, "features": list(data.features)},
        "engine": dict(engine), "sample": dict(sample) if sample is not None else None,
        "kept_rows": str(kept_rows), "kept_ids": {"dataset": str(kept_rows), "column": data.id or "row position"},
        "scores": str(scores), "scores_fingerprint": scores_fingerprint,
    })
