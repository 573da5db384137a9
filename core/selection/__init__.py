"""core.selection."""
