"""``workbench samples``: list the bundled sample data sets."""

from __future__ import annotations

import json

from core.data import list_samples

NAME = "samples"

__all__ = ["NAME", "add_parsers", "run"]


def add_parsers(sub, *, common, data, formatter) -> None:
    p = sub.add_parser(NAME, parents=[common], formatter_class=formatter,
                       help="list the bundled sample data sets",
                       description="List the bundled sample data sets with their paths and label columns.",
                       epilog="example:\n  workbench samples --json")
    p.add_argument("--json", action="store_true", help="print a JSON list")


def run(args) -> int:
    rows = list_samples()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<14} {row['path']}  (--label {row['label']}"
              f"{' --id ' + row['id'] if row['id'] else ''}; {row['rows']} rows) {row['title']}")
    return 0
