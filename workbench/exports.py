"""The Export page's files: the kept rows made once, when first asked for; the manifest and summary beside them.

A CSV of the kept rows is the slow file (pandas writes about 0.8 million values a second: 2.4 s for
15,000 rows x 128 columns), and the page used to make it on every run whose estimate or curve had
changed, before the full-data panel below it was drawn. The rows depend only on the selection, the
table, the format and the columns, so they are made once per those, and for a CSV only when the
download is clicked (Streamlit runs a callable ``data`` then).
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from core.outputs import kept_formula_cells
from workbench import cards, state


class LazyBytes:
    """``make()`` called on first use, once; thread-safe (a download click calls it from another thread)."""

    def __init__(self, make: Callable[[], bytes]):
        self._make, self._value, self._lock = make, None, threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            if self._value is None:
                self._value = self._make()
            return self._value

    @property
    def ready(self) -> bool:
        return self._value is not None

    def for_download(self):
        """What a download button gets: the bytes once made, else this callable (made on the click)."""
        return self._value if self._value is not None else self


class ExportFiles(dict):
    """The export's files by name, as bytes; ``"rows"`` comes from a :class:`LazyBytes` when first read."""

    def __init__(self, rows: LazyBytes, **files: Optional[bytes]):
        super().__init__(files)
        self.rows = rows

    def __missing__(self, name: str) -> bytes:
        if name != "rows":
            raise KeyError(name)
        return self.rows()

    def __contains__(self, name) -> bool:
        return name == "rows" or super().__contains__(name)


def formula_safe_choice(container, ds, sel, identity, table, include_scores: bool, dropped: tuple) -> bool:
    """For a CSV: say which kept text cells a spreadsheet would run as formulas (``=``, ``+``, ``-``, ``@``) and
    offer to prefix them with ``'``; off by default, so the exported values are the user's own. Counted once
    per selection (``identity``), score table and columns."""
    found = state.memo("export_formulas", (identity, state.get("table_version"), include_scores, dropped),
                       lambda: kept_formula_cells(ds, sel, table, include_scores, dropped))
    if not found:
        return False
    listed = ", ".join(f"{cards.literal(name)} ({count:,})" for name, count in list(found.items())[:5])
    container.warning(f"{sum(found.values()):,} kept text cell(s) start with = + - @ (columns {listed}): a "
                      "spreadsheet may run them as formulas. The CSV keeps them as they are unless you tick "
                      "“Formula-safe CSV”, which prefixes those cells with ' so a spreadsheet shows them as text.",
                      icon=":material/warning:")
    state.sticky("export_formula_safe", False)
    return bool(state.remember("export_formula_safe", container.checkbox(
        "Formula-safe CSV", key="export_formula_safe",
        help="Prefix the cells above with ' (the usual spreadsheet escape); every other value is written unchanged.")))
