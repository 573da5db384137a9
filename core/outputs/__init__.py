"""Outputs: files written atomically, the kept rows, the manifest and its exact re-application.

Faces write through :mod:`core.workflows` (``core.export``, ``core.build_manifest``); this package's
public names are the ones that need no workflow: reading and applying a manifest, the kept rows.
"""

from core.outputs.files import table_format, write_json, write_table
from core.outputs.manifest import apply_and_export, apply_manifest, read_manifest
from core.outputs.rows import kept_formula_cells, kept_frame, rows_bytes
from core.outputs.tracking import log_selection, mlflow_available, require_mlflow, track, tracking_uri

__all__ = ["table_format", "write_table", "write_json", "read_manifest", "apply_manifest", "apply_and_export",
           "kept_frame", "kept_formula_cells", "rows_bytes", "log_selection", "track", "mlflow_available", "require_mlflow",
           "tracking_uri"]
