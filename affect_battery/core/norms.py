"""Per-item reading norms, computed from the raw ratings shipped in ``data/norms/ratings.jsonl``.

A rating counts for an item only while its ``text_sha256`` matches the item's current text:
editing an item retires its old ratings, and its norms must be earned again from new readers.
Retired ratings stay in the file (nothing is ever deleted) so first-read figures can always be
recomputed. The protocol that produced the ratings is ``data/norms/PROTOCOL.md``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .columns import AI_NORM_COLUMNS, HUMAN_NORM_COLUMNS, NORM_COLUMNS, RATING_COLUMNS
from .constants import NONE, NORM_LABELS
from .jsonl import iter_jsonl
from .paths import data_dir

RATING_FIELDS: tuple[str, ...] = ("reader", "rater_type", "round", "cycle", "list",
                                  "instruction", "item_id", "text_sha256", "label", "intensity",
                                  "natural")
"""One rating: who read what (list, round, instruction version), which exact text, and what."""

INTENDED_FOR_CONTROLS = NONE
RATER_TYPES: tuple[str, ...] = ("ai", "human")


def text_sha256(text: str) -> str:
    """SHA-256 of a text's UTF-8 bytes: what ties a rating to the exact text that was read.

    >>> text_sha256("abc")[:12]
    'ba7816bf8f01'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ratings_path() -> Path:
    return data_dir() / "norms" / "ratings.jsonl"


def load_ratings(path: str | Path | None = None) -> pd.DataFrame:
    """All stored ratings (current and retired) as a frame with ``RATING_FIELDS`` columns."""
    path = Path(path) if path is not None else ratings_path()
    if not path.is_file():
        return pd.DataFrame({f: pd.Series(dtype=object) for f in RATING_FIELDS})
    rows = []
    for lineno, row in iter_jsonl(path):
        missing = [f for f in RATING_FIELDS if f not in row]
        if missing or row.get("label") not in NORM_LABELS:
            raise InputError(f"not a rating (missing {missing or 'a valid label'})", str(path),
                             lineno, row.get("item_id"))
        rows.append({f: row[f] for f in RATING_FIELDS})
    return pd.DataFrame(rows, columns=list(RATING_FIELDS))


def intended_label(split: str, source_emotion: str | None) -> str:
    """What a read must say to agree: the scenario's emotion, or "none" for the controls.

    >>> intended_label("moderate", "fear"), intended_label("neutral", "fear")
    ('fear', 'none')
    """
    if split in ("neutral", "complex_neutral"):
        return INTENDED_FOR_CONTROLS
    return str(source_emotion)


def annotate(ratings: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Ratings joined with their item: split, source emotion, intended label, agreement, and
    whether the rating is *current* (its hash matches the item's text now)."""
    items = frame.set_index("id")
    known = ratings[ratings["item_id"].isin(items.index)].copy()
    sha_now = {i: text_sha256(t) for i, t in zip(items.index, items["text"], strict=True)}
    known["current"] = [sha_now[i] == h for i, h in zip(known["item_id"], known["text_sha256"],
                                                        strict=True)]
    known["split"] = known["item_id"].map(items["split"])
    known["source_emotion"] = known["item_id"].map(items["source_emotion"])
    known["intended"] = [intended_label(s, e) for s, e in zip(known["split"],
                                                             known["source_emotion"],
                                                             strict=True)]
    known["agree"] = known["label"] == known["intended"]
    known["intensity"] = known["intensity"].astype(int)
    return known


def item_norms(frame: pd.DataFrame, ratings: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per item of ``frame`` with the ``NORM_COLUMNS`` (current ratings only).

    Machine and human reads are never pooled: AI readers fill the ``norm_*`` columns, human
    raters the ``human_norm_*`` columns. Items nobody of a kind has read (keyword_rich twins,
    new items) get ``norm_n = 0`` / ``human_norm_n = 0`` and nulls.
    """
    ratings = load_ratings() if ratings is None else ratings
    ai = rater_norms(frame, ratings, "ai")
    human = rater_norms(frame, ratings, "human")
    human = human[["id", "norm_n", "norm_agreement", "norm_intensity_mean",
                   "norm_intensity_sd"]].set_axis(["id", *HUMAN_NORM_COLUMNS], axis=1)
    return ai.merge(human, on="id", how="left", validate="1:1")[["id", *NORM_COLUMNS]]


def rater_norms(frame: pd.DataFrame, ratings: pd.DataFrame, rater_type: str) -> pd.DataFrame:
    """Per-item norms from one rater type's current ratings, in ``AI_NORM_COLUMNS`` layout."""
    if rater_type not in RATER_TYPES:
        raise ValueError(f"unknown rater type {rater_type!r}")
    out = pd.DataFrame({"id": frame["id"].to_numpy()})
    out["norm_n"] = 0
    for col in AI_NORM_COLUMNS[1:]:
        out[col] = np.nan
    cur = (annotate(ratings[ratings["rater_type"] == rater_type], frame)
           if not ratings.empty else ratings)
    if not cur.empty:
        cur = cur[cur["current"]]
    if cur.empty:
        return out
    grouped = cur.groupby("item_id")
    stats = pd.DataFrame({
        "norm_n": grouped.size(),
        "norm_agreement": grouped["agree"].mean(),
        "norm_intensity_mean": grouped["intensity"].mean(),
        "norm_intensity_sd": grouped["intensity"].std(ddof=1).fillna(0.0),
    })
    shares = pd.crosstab(cur["item_id"], cur["label"], normalize="index")
    for lab in NORM_LABELS:
        stats[f"norm_p_{lab}"] = shares.get(lab, 0.0)
    merged = out[["id"]].merge(stats, left_on="id", right_index=True, how="left")
    merged["norm_n"] = merged["norm_n"].fillna(0).astype(int)
    return merged[["id", *AI_NORM_COLUMNS]]


def ratings_table(frame: pd.DataFrame, ratings: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every stored rating of an item of ``frame``, with ``current`` marking those whose text is
    the item's text now: the ``norms`` config of the export, so users can recompute anything.

    Sorted by round, reader and item so the export is byte-stable.
    """
    ratings = load_ratings() if ratings is None else ratings
    if ratings.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in RATING_COLUMNS})
    annotated = annotate(ratings, frame)
    annotated = annotated.sort_values(["round", "reader", "item_id"], kind="stable")
    return annotated[list(RATING_COLUMNS)].reset_index(drop=True)
