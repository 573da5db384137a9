"""core.data."""
