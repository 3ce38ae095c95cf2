"""A content hash of the battery, so reports and cards can prove which data they describe."""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from .constants import COLUMNS


def battery_digest(frame: pd.DataFrame) -> str:
    """SHA-256 over every item's columns, in id order (independent of file layout)."""
    rows = []
    for rec in frame.sort_values("id")[list(COLUMNS)].to_dict(orient="records"):
        rows.append({k: (None if v is None or (isinstance(v, float) and v != v) or v is pd.NA
                         else (int(v) if k in ("domain", "word_count", "sentence_count")
                               else v)) for k, v in rec.items()})
    blob = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
