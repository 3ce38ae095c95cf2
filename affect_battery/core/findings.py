"""Findings and input errors: the two ways a check can object.

A :class:`Finding` is a problem with an item (exit 1: fix the item). An :class:`InputError` means
the input could not be read at all (exit 2: fix the file). Both name file, line and item id, so a
user never has to read a traceback to find what to fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    item_id: str | None = None
    file: str | None = None
    line: int | None = None
    severity: str = "error"
    details: dict[str, Any] = field(default_factory=dict)

    def location(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        if self.item_id:
            parts.append(self.item_id)
        return " ".join(parts) if parts else "<battery>"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.location()}: {self.severity} [{self.code}] {self.message}"


class InputError(Exception):
    """Input that cannot be used at all: unreadable, malformed, or missing required columns."""

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
