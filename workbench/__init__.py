"""The Streamlit app of the data pruning workbench: router, shared state, caching and chart builders.

Run it with ``streamlit run workbench/app.py``. Pages live in the top-level ``pages/`` folder.
"""
