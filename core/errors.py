"""Errors that reach the user as one line, never as a traceback.

Every mistake a user can make (a bad option, a bad config key, a bad CSV row, an unreachable
database) raises a subclass of :class:`C365Error`. The CLI prints ``error: <message>`` and
exits with :attr:`C365Error.exit_code`; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class C365Error(Exception):
    """Base of every error meant for the user. ``str(error)`` is the whole message."""

    exit_code = 1


class UsageError(C365Error):
    """The user asked for something that cannot be: wrong argument, unknown name, bad value."""

    exit_code = 2


class ConfigError(UsageError):
    """district.toml is missing, unreadable or invalid; the message names the key."""


class NotFound(UsageError):
    """A code, ID number or name the user gave matches nothing."""


class DatabaseError(C365Error):
    """The database cannot be reached or is not at the expected revision."""


class PluginError(C365Error):
    """A plugin failed inside a hook; the message names the plugin and the hook."""

    def __init__(self, plugin: str, hook: str, cause: BaseException) -> None:
        self.plugin = plugin
        self.hook = hook
        self.cause = cause
        super().__init__(f"plugin {plugin!r} failed in {hook}: {type(cause).__name__}: {cause}")


class ImportRowsError(UsageError):
    """A CSV file has bad rows. Nothing was written; :attr:`problems` lists them all."""

    def __init__(self, path: str, problems: list[str], total: int | None = None) -> None:
        self.path = path
        self.problems = problems
        count = total if total is not None else len(problems)
        shown = "\n".join(problems)
        super().__init__(f"{path}: {count} bad row(s), nothing was imported\n{shown}")


class FieldError(UsageError):
    """One field of one record is wrong. Imports add the file and line in front."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class InvalidTransition(UsageError):
    """An action that the case's status does not allow, or that needs what was not given."""
