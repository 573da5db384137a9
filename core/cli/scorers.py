"""``workbench scorers``: list the registered scorers with their metadata."""

from __future__ import annotations

import json

from core.foundation import to_jsonable
from core.scorers import METADATA_KEYS, list_scorers

NAME = "scorers"

__all__ = ["NAME", "add_parsers", "run"]


def add_parsers(sub, *, common, data, formatter) -> None:
    p = sub.add_parser(NAME, parents=[common], formatter_class=formatter, help="list the scorers",
                       description="List the registered scorers with their metadata.",
                       epilog="examples:\n  workbench scorers\n  workbench scorers --json | jq '.[].name'")
    p.add_argument("--json", action="store_true",
                   help=f"print a JSON list of objects ({', '.join(METADATA_KEYS)})")


def run(args) -> int:
    rows = list_scorers()
    if args.json:
        print(json.dumps([to_jsonable({k: row.get(k) for k in METADATA_KEYS}) for row in rows], indent=2))
        return 0
    width = max([len(r["name"]) for r in rows] + [4])
    print(f"{'name':<{width}}  {'family':<9}  {'cost':<6}  keep  flags  higher means / description")
    for row in rows:
        print(f"{row['name']:<{width}}  {row['family']:<9}  {str(row.get('cost', '')):<6}  {row['keep']:<4}  "
              f"{'yes' if row['flags'] else 'no':<5}  {row['higher_means']}: {row['description']}")
    return 0
