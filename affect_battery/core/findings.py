"""Findings and input errors: the two ways a check can object.

A :class:`Finding` is a problem with an item (exit 1: fix the item). An :class:`InputError` means
the input could not be read at all (exit 2: fix the file). Both name file, line and item id, so a
user never has to read a traceback to find what to fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InputError  # noqa: F401  (re-exported: the other way a check objects)


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
