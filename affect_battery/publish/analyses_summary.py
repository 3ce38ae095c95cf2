"""Render an analyses ``results.json`` headline for the dataset card.

Only the ``headline`` block of a results file is used: a flat mapping of figure name to value,
written by the analyses suite. Nothing here is typed by hand.
"""

from __future__ import annotations

from typing import Any


def card_section(results: dict[str, Any]) -> str:
    head = results.get("headline") or {}
    model = results.get("model", {})
    name = model.get("id") or model.get("name") or "a model"
    lines = [f"## Reference analyses ({name})", "",
             f"Computed by `affect-battery analyze` (results schema "
             f"{results.get('schema_version', '?')}).", ""]
    for key, value in sorted(head.items()):  # file key order must not change the card
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        lines.append(f"- {key.replace('_', ' ')}: {shown}")
    return "\n".join(lines)
