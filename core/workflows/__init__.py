"""core.workflows."""
