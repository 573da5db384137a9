"""core.projection."""
