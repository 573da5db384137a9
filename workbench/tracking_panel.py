"""The Export page's MLflow panel: log the selection being exported as an MLflow run, on request.

Off unless the user asks; the store is the local ``./mlruns`` unless they name one. A served app
(server mode) logs only to the stores the operator lists (``WORKBENCH_MLFLOW_STORES``): a store decides where
files go (a SQLite URI is a file of the server), so a visitor never chooses one.
"""

from __future__ import annotations

import json

import streamlit as st

from core.outputs import log_selection, mlflow_available
from workbench import settings, state


def render(ds, sel, *, estimate: dict, scores, files: dict, curve=None) -> None:
    """An expander with a store field and a "Log run" button (widget keys ``export_mlflow_*``)."""
    with st.expander("Track in MLflow", icon=":material/science:"):
        if not mlflow_available():
            st.caption("Experiment tracking needs MLflow: `pip install 'data-pruning-workbench[tracking]'`.")
            return
        local = settings.local_files_allowed()
        uri = st.text_input("Tracking store", key="export_mlflow_uri",
                            placeholder="./mlruns (local, offline)" if local else "http://mlflow-server:5000",
                            help="A folder (local SQLite store + artifacts) or a tracking URI.")
        refusal = settings.mlflow_refusal(uri) if not local else None
        if refusal:
            st.caption(refusal)
            return
        if st.button("Log this selection as a run", key="export_mlflow_log", icon=":material/science:"):
            with state.user_errors("Could not log to MLflow: "), st.spinner("Logging the run..."):
                run = log_selection(ds, sel, estimate=estimate, manifest=json.loads(files["manifest"]),
                                    scores=scores, curve=curve, summary=files["summary"].decode(),
                                    uri=uri.strip() or None, origin="app")
                st.success(f"Logged run `{run['run_id']}` to `{run['uri']}` ({', '.join(run['artifacts'])}).")
