"""core.foundation."""
