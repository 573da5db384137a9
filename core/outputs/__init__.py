"""core.outputs."""
