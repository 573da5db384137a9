"""Errors a user can cause.

Every one of them carries a message that says what is wrong and what to do about it. The CLI
prints that message on one line and exits with code 2; the app shows it with ``st.error``.
Anything that is not a ``WorkbenchError`` is a bug in the workbench, not in the user's input.

What to do differs by face where the fix is an option: the CLI's user types ``--encoding``, the
API's passes ``encoding=...``, the app's picks a value in a box. Such a message is an :class:`Advice`:
the CLI and API wording as the string, the app's as its ``app`` (:func:`for_app` picks it).
"""

from __future__ import annotations

from typing import Optional


class Advice(str):
    """A message (or a loading warning) worded for the CLI and the API, with ``app``: the same worded for the
    app, whose user has controls instead of options. Everywhere else it is the plain string."""

    app: Optional[str]

    def __new__(cls, text: str, app: Optional[str] = None):
        advice = super().__new__(cls, text)
        advice.app = app
        return advice


def for_app(message) -> str:
    """What the app shows for ``message`` (a string, an :class:`Advice` or a :class:`WorkbenchError`): its
    app wording when it has one, else the message itself."""
    if isinstance(message, BaseException):
        message = message.args[0] if len(message.args) == 1 else str(message)
    return str(getattr(message, "app", None) or message)


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
