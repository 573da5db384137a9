"""The partitioned halves of ``workbench score``, ``select`` and ``apply`` (``run_score``, ``run_select``,
``run_apply``): partitioned Parquet data, on a Dask cluster.

DATA that is a folder of Parquet files (or a glob) is scored and selected partition by partition
(:mod:`core.workflows.partitioned`), and a partitioned selection manifest is re-applied the same way: ``--cluster ADDRESS`` attaches to a running Dask scheduler;
without it a local cluster of ``--workers`` processes starts (0 runs the partitions in this
process) and is always shut down. Outputs are partitioned datasets (folders).
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Optional

from core import workflows
from core.cli import support
from core.foundation import ConfigError


def wanted(args) -> bool:
    """Whether this command runs on partitions: ``--cluster`` given, or DATA is a partitioned dataset."""
    return bool(getattr(args, "cluster", None)) or workflows.is_partitioned(args.data)


def wanted_apply(args) -> bool:
    """Whether ``apply`` runs on partitions: a partitioned manifest, ``--cluster``, or partitioned DATA."""
    return workflows.is_partitioned_manifest(args.manifest) or wanted(args)


def _engine(args):
    workers = support.parse_positive_int(args.workers, "--workers", minimum=0, maximum=256)
    return workflows.open_engine(args.cluster, workers=workers)


def _out_folder(path: str, option: str, data=None) -> Path:
    out = Path(path).expanduser()
    if out.exists():
        raise ConfigError(f"{option} {path} exists; partitioned outputs go to a new folder (nothing was written).")
    if out.suffix.lower() in (".csv", ".tsv", ".parquet", ".pq", ".json"):
        raise ConfigError(f"{option} {path}: partitioned data write a folder of Parquet files; give a folder name "
                          "without an extension, e.g. scores/.")
    searched = _searched_folder(data)
    if searched is not None and out.resolve().is_relative_to(searched):
        raise ConfigError(f"{option} {path} is inside the data folder {data}, whose Parquet files are all read as "
                          "partitions: write it beside the data instead (nothing was written).")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _searched_folder(data) -> Optional[Path]:
    """The folder whose Parquet files DATA takes in (a folder, or a glob's fixed part), or None."""
    if data is None:
        return None
    path = Path(str(data)).expanduser()
    if glob.has_magic(str(path)):
        fixed = []
        for part in path.parts:
            if glob.has_magic(part):
                break
            fixed.append(part)
        return Path(*fixed).resolve() if fixed else Path.cwd()
    return path.resolve() if path.is_dir() else None


def _on_engine(args, work, bar=None):
    """``work(engine)`` on the command's engine, then the progress bar closed.

    An interrupt after ``work`` returned finishes the command: its outputs are complete and in place,
    and only the cluster's shutdown was interrupted. One before is raised (the CLI's one line, exit 130).
    """
    result = None
    try:
        with _engine(args) as engine:
            result = work(engine)
    except KeyboardInterrupt:
        if result is None:
            raise
    finally:
        if bar is not None:
            bar.close()
    return result


def run_score(args) -> int:
    folds = support.parse_positive_int(args.folds, "--folds", minimum=2)
    seed = support.parse_positive_int(args.seed, "--seed", minimum=0, maximum=support.MAX_SEED)
    out = _out_folder(args.out, "--out", args.data)
    names = [n.strip() for n in args.scorers.split(",")] if args.scorers not in ("default", None) else "default"
    features = support.split_list(args.features) or None
    bar = support.make_progress(args.quiet)
    record = _on_engine(args, lambda engine: workflows.score_partitioned(
        args.data, out, label=args.label, id=args.id, features=features, names=names, seed=seed, folds=folds,
        search=args.search, engine=engine, progress=bar), bar)
    if not args.quiet:
        neighbours = record["scorers"][0].get("neighbors", {}) if record["scorers"] else {}
        how = ", ".join(str(part) for part in (neighbours.get("method", "n/a"), neighbours.get("search"),
                                               neighbours.get("recall_at_10") and
                                               f"recall@10 {neighbours['recall_at_10']} on sampled rows") if part)
        print(f"Scored {record['n_rows']} rows in {record['partitions']} partitions on {json.dumps(record['engine'])} "
              f"(neighbours: {how}); wrote {out}.", flush=True)
    return 0


def run_select(args) -> int:
    seed = support.parse_positive_int(args.seed, "--seed", minimum=0, maximum=support.MAX_SEED)
    keep = support.parse_fraction(args.keep) if args.keep is not None else None
    threshold = support.parse_number(args.threshold, "--threshold")
    if not args.scores:
        raise ConfigError("On partitioned data select reads the scores folder `workbench score` wrote: pass --scores.")
    support.check_input(args.scores, "--scores")
    out = _out_folder(args.out, "--out", args.data)
    manifest = support.check_output(args.manifest, option="--manifest", inputs=[("DATA", args.data)], kind="json")
    features = support.split_list(args.features) or None
    bar = support.make_progress(args.quiet)
    document = _on_engine(args, lambda engine: workflows.select_partitioned(
        args.data, args.scores, out, manifest, strategy=args.strategy, keep=keep, threshold=threshold, seed=seed,
        label=args.label, id=args.id, features=features, engine=engine, progress=bar), bar)
    if not args.quiet:
        print(f"Kept {document['n_kept']} of {document['n_input']} rows with {args.strategy}; wrote {out} and "
              f"{manifest}.", flush=True)
    return 0


def run_apply(args) -> int:
    support.check_input(args.manifest, "MANIFEST")
    if not workflows.is_partitioned_manifest(args.manifest):
        raise ConfigError(f"{args.manifest} is an in-memory selection manifest (a list of kept ids); it applies to the "
                          "file it was made from. For partitioned DATA, select with `workbench select DATA --scores "
                          "SCORES ...` and apply the partitioned manifest that writes.")
    if not (workflows.is_partitioned(args.data) or Path(args.data).suffix.lower() in (".parquet", ".pq")):
        raise ConfigError(f"{args.manifest} is a partitioned selection manifest: DATA must be the folder (or glob) of "
                          f"Parquet files it was made from, not {args.data}.")
    if args.scores:
        support.check_input(args.scores, "--scores")
    out = _out_folder(args.out, "--out", args.data)
    record = _on_engine(args, lambda engine: workflows.apply_partitioned(
        args.manifest, args.data, out, scores=args.scores, engine=engine, force=args.force))
    if not args.quiet:
        print(f"Applied {Path(args.manifest).name}: kept {record['n_kept']} of {record['n_input']} rows "
              f"({record['strategy']}); wrote {out}.", flush=True)
    return 0
