"""``workbench apply``: re-apply a manifest to data (partitioned manifests: :mod:`core.cli.partitioned`)."""

from __future__ import annotations

from pathlib import Path

from core import workflows
from core.cli import partitioned, steps, support
from core.cli.options import FORMULA_HELP, OUTPUTS, cluster_options, wrap

NAME = "apply"

__all__ = ["NAME", "add_parsers", "run"]


def add_parsers(sub, *, common, data, formatter) -> None:
    p = sub.add_parser(
        NAME, parents=[common], formatter_class=formatter, help="re-apply a manifest to data",
        description=wrap(
            "Re-apply a manifest: write the same kept ids, in the same order, with all original columns. The "
            "data are loaded with the options recorded in the manifest. When their fingerprint differs from the "
            "manifest's, apply refuses (exit code 2) and says what differs, unless --force.", OUTPUTS),
        epilog=wrap("--force: keep the rows whose ids are in the manifest (matched by id, in the manifest's "
                    "order); manifest ids missing from the data are skipped and listed in a warning on stderr. "
                    "It is still an error when none of the ids is present.")
        + "\n\nexample:\n  workbench apply manifest.json data.csv --out kept.csv")
    p.add_argument("manifest", metavar="MANIFEST.json", help="manifest written by `workbench select`")
    p.add_argument("data", metavar="DATA", help="the data to apply it to")
    p.add_argument("--out", required=True, metavar="FILE", help="kept rows, .csv or .parquet")
    p.add_argument("--force", action="store_true", help="apply by id even when the data differ (see below)")
    p.add_argument("--formula-safe", action="store_true", help=FORMULA_HELP)
    p.add_argument("--scores", default=None, metavar="FOLDER",
                   help="partitioned manifests: the scores folder (default: the one the manifest records)")
    cluster_options(p)


def run(args) -> int:
    if partitioned.wanted_apply(args):
        return partitioned.run_apply(args)
    support.check_input(args.manifest, "MANIFEST")
    support.check_input(args.data)
    support.check_output(args.out, option="--out", inputs=[("DATA", args.data), ("MANIFEST", args.manifest)])
    sel, ds = workflows.apply_and_export(args.manifest, args.data, args.out, force=args.force,
                                         formula_safe=args.formula_safe)
    details = sel.details
    if details.get("forced"):
        missing, repeated = details.get("missing_ids") or [], details.get("duplicate_ids") or []
        differ = ("the data differ from the manifest's (" + "; ".join(details.get("differences", [])) + "); "
                  if not details.get("fingerprint_matches", True) else "")
        steps.warn(f"--force: {differ}kept the {sel.n_kept} rows whose ids are in the manifest"
                   + (f"; skipped {len(missing)} manifest id(s) not in the data: {missing[:20]}" if missing else "")
                   + (f"; kept {len(repeated)} repeated id(s) once: {repeated[:20]}" if repeated else "") + ".")
    steps.say(args, f"Applied {Path(args.manifest).name}: kept {sel.n_kept} of {ds.n_samples} rows "
                    f"({sel.resolved_strategy}); wrote {args.out}.")
    return 0
