"""One root for every error that is the user's to fix.

The CLI catches :class:`AffectBatteryError` (and nothing broader): it prints one line and exits
with the error's ``exit_code``. Any other exception is a bug in this package and keeps its
traceback, so a ``ValueError`` from our own code is never passed off as a user mistake.
"""

from __future__ import annotations

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class AffectBatteryError(Exception):
    """Base of all user-facing errors; ``str(exc)`` is the one line the user sees."""

    exit_code: int = EXIT_USAGE


class UsageError(AffectBatteryError):
    """A mistake in how a command or function was called (bad option, missing file)."""


class InputError(AffectBatteryError):
    """Input that cannot be used at all: unreadable, malformed, or missing required columns.

    >>> str(InputError("malformed JSON", "items.jsonl", 3, "C-anger-d1-1"))
    'items.jsonl:3 C-anger-d1-1: malformed JSON'
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 item_id: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.item_id = item_id
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.item_id:
            where = f"{where} {self.item_id}".strip()
        return f"{where}: {self.message}" if where else self.message


class ClassifierError(AffectBatteryError):
    """The contextual classifier cannot be built (missing extra, unknown model, offline Hub)."""


class ModelError(AffectBatteryError):
    """A model for the analyses cannot be loaded (missing extra, unknown alias, offline Hub)."""


class ArchitectureError(AffectBatteryError):
    """A model whose blocks or sites the analyses cannot find."""


class ExportError(AffectBatteryError):
    """A Hub export that cannot be written or does not verify."""


class HubError(AffectBatteryError):
    """A push to the Hub that cannot proceed (no token, offline, bad repo id)."""
