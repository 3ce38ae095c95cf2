"""Per-split summaries and matched values: the inputs every defence method shares.

Each method scores every item (a VADER compound, an NRC hit rate, a classifier's P(emotional));
the report then needs the same three views of such a score: its distribution by split, its values
over matched clinical/neutral pairs (for paired tests), and over neutral/moderate/clinical
triplets (for the trend test). They live here once so the methods cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.constants import SPLITS
from ..core.ids import sibling_id
from .records import Record


@dataclass(kw_only=True)
class Summary(Record):
    """Distribution of one score over a group of items (None where the group is empty)."""

    n: int
    mean: float | None
    sd: float | None
    median: float | None

    @classmethod
    def of(cls, values: np.ndarray) -> Summary:
        """n, mean, SD (0 for a single value) and median, rounded as the report prints them."""
        values = np.asarray(values, float)
        if values.size == 0:
            return cls(n=0, mean=None, sd=None, median=None)
        return cls(n=int(values.size), mean=round(float(values.mean()), 4),
                   sd=round(float(values.std(ddof=1)), 4) if values.size > 1 else 0.0,
                   median=round(float(np.median(values)), 4))


def by_split(frame: pd.DataFrame, col: str) -> dict[str, Summary]:
    """``col`` summarised per split, for the splits that have items (in ``SPLITS`` order)."""
    return {s: Summary.of(frame.loc[frame["split"] == s, col].to_numpy(float)) for s in SPLITS
            if (frame["split"] == s).any()}


def matched_values(frame: pd.DataFrame, col: str, split: str = "clinical",
                   link: str = "matched_control_id") -> tuple[np.ndarray, np.ndarray]:
    """Values of ``col`` for the items of ``split`` and for their partners named by ``link``.

    Items whose partner is not in the frame are left out, so the two arrays stay paired.
    """
    by_id = frame.set_index("id")[col]
    left = frame[frame["split"] == split]
    present = left[link].map(lambda i: i in by_id.index).astype(bool)
    partners = left.loc[present, link]
    return left.loc[present, col].to_numpy(float), by_id.loc[partners].to_numpy(float)


def triplets(frame: pd.DataFrame, col: str) -> np.ndarray:
    """Rows of [neutral, moderate, clinical] values for scenarios that have all three."""
    by_id = frame.set_index("id")[col]
    rows = []
    for mid in frame.loc[frame["split"] == "moderate", "id"]:
        ids = (sibling_id(mid, "neutral"), mid, sibling_id(mid, "clinical"))
        if all(i in by_id.index for i in ids):
            rows.append([float(by_id[i]) for i in ids])
    return np.asarray(rows, float).reshape(-1, 3)
