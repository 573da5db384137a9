"""Errors a user can cause.

Every one of them carries a message that says what is wrong and what to do about it. The CLI
prints that message on one line and exits with code 2; the app shows it with ``st.error``.
Anything that is not a ``WorkbenchError`` is a bug in the workbench, not in the user's input.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of all user-facing errors."""


class DataFileError(WorkbenchError):
    """The input file is missing, empty, corrupt or of an unsupported format."""


class LabelError(WorkbenchError):
    """The label column is missing, has blanks, or has too few classes or rows per class."""


class IdError(WorkbenchError):
    """The id column is missing or has duplicate values."""


class ConfigError(WorkbenchError):
    """An option is out of range or names something that does not exist."""


class ManifestError(WorkbenchError):
    """A manifest is unreadable or does not match the data it is applied to."""


class Cancelled(WorkbenchError):
    """The user cancelled a long computation; nothing partial was kept."""


class WorkbenchWarning(UserWarning):
    """Something the user should know that does not stop the work (the CLI prints it on one line)."""
