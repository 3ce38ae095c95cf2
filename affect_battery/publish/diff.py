"""What changed between two versions of the battery: items added, removed and changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..core.battery import battery_frame
from ..core.columns import COLUMNS
from .export import ExportError, read_export

CURRENT = "current"


def load_side(spec: str | Path) -> pd.DataFrame:
    """An export folder, or ``current`` for the battery installed with this package."""
    if str(spec) == CURRENT:
        return battery_frame()
    return read_export(spec)


def _norm(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def diff_frames(old: pd.DataFrame, new: pd.DataFrame) -> dict[str, Any]:
    o = old.set_index("id")
    n = new.set_index("id")
    common = o.index.intersection(n.index)
    if len(common) == 0 and len(o) and len(n):
        raise ExportError("the two batteries share no item ids: they are unrelated")
    added = sorted(set(n.index) - set(o.index))
    removed = sorted(set(o.index) - set(n.index))
    changed = []
    for item_id in sorted(common):
        cols = [c for c in COLUMNS if c != "id" and c in o.columns and c in n.columns
                and _norm(o.at[item_id, c]) != _norm(n.at[item_id, c])]
        if cols:
            changed.append({"id": item_id, "columns": cols})
    return {"added": added, "removed": removed, "changed": changed,
            "n_old": len(o), "n_new": len(n)}


def format_diff(d: dict[str, Any]) -> str:
    lines = [f"{d['n_old']} -> {d['n_new']} items: {len(d['added'])} added, "
             f"{len(d['removed'])} removed, {len(d['changed'])} changed"]
    lines += [f"+ {i}" for i in d["added"]]
    lines += [f"- {i}" for i in d["removed"]]
    lines += [f"~ {c['id']} ({', '.join(c['columns'])})" for c in d["changed"]]
    return "\n".join(lines) + "\n"
