"""A content hash of the battery, so reports and cards can prove which data they describe.

Only the stimulus columns count: new ratings change the norms, not what the battery *is*.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from .columns import STIMULUS_SPEC, records


def battery_digest(frame: pd.DataFrame) -> str:
    """SHA-256 over every item's stimulus columns, in id order (independent of file layout)."""
    cols = records(frame.sort_values("id"), STIMULUS_SPEC)
    rows = [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]
    blob = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
