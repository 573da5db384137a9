"""Execute examples/quickstart.ipynb so that it never goes stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_runs_end_to_end(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    # the kernel starts in tmp_path, so the notebook's outputs never land in the repository;
    # "python3" resolves to the interpreter running the tests (jupyter_client swaps in sys.executable)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors
    manifest = json.loads((tmp_path / "quickstart_output" / "manifest.json").read_text())
    assert manifest["strategy"] == "drop-flagged:label_noise"
    assert manifest["n_kept"] == len(manifest["kept_ids"]) > 0
    assert (tmp_path / "quickstart_output" / "kept.csv").exists()


def test_committed_notebook_has_no_outputs():
    """Outputs are produced by running it; the committed file stays small and diff-friendly."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    assert all(not cell.get("outputs") and cell.get("execution_count") is None
               for cell in cells if cell["cell_type"] == "code")
