"""Blind-read agreement, computed from the ratings stored with the data.

A rating counts only while the text it judged is unchanged (matched by SHA-256), so editing an
item silently retires its old ratings and its agreement must be earned again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.constants import EMOTIONS
from ..core.paths import data_dir

TARGETS = {"clinical": 0.85, "neutral": 0.90, "complex_neutral": 0.95}


def ratings_path() -> Path:
    return data_dir() / "blind_read" / "ratings.jsonl"


def load_ratings(path: str | Path | None = None) -> pd.DataFrame:
    path = Path(path) if path is not None else ratings_path()
    if not path.is_file():
        return pd.DataFrame(columns=["round", "reader", "item_id", "label", "second",
                                     "text_sha256"])
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return pd.DataFrame(rows)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def agreement(frame: pd.DataFrame, ratings: pd.DataFrame | None = None) -> dict[str, Any]:
    """Agreement by split and by source emotion, over current ratings only.

    Clinical items agree when read as their intended emotion; neutral and complex_neutral items
    when read as "none". When an item has several current ratings each counts once.
    """
    ratings = load_ratings() if ratings is None else ratings
    if ratings.empty:
        return {"computed": False, "reason": "no blind-read ratings"}
    items = frame.set_index("id")
    current = ratings[ratings["item_id"].isin(items.index)].copy()
    current = current[[_sha(items.at[i, "text"]) == h
                       for i, h in zip(current["item_id"], current["text_sha256"], strict=True)]]
    current["split"] = current["item_id"].map(items["split"])
    current["source_emotion"] = current["item_id"].map(items["source_emotion"])
    current["expected"] = [e if s == "clinical" else "none"
                           for s, e in zip(current["split"], current["source_emotion"],
                                           strict=True)]
    current["agree"] = current["label"] == current["expected"]
    out: dict[str, Any] = {"computed": True, "n_ratings": len(ratings),
                           "n_current": len(current),
                           "n_stale": int(len(ratings) - len(current)),
                           "targets": TARGETS, "by_split": {}, "by_emotion": {}}
    for split, target in TARGETS.items():
        part = current[current["split"] == split]
        if part.empty:
            continue
        rated = part["item_id"].nunique()
        n_items = int((frame["split"] == split).sum())
        out["by_split"][split] = {
            "agreement": round(float(part["agree"].mean()), 4), "n_ratings": len(part),
            "items_rated": int(rated), "items_in_split": n_items,
            "meets_target": bool(part["agree"].mean() >= target)}
    for emo in EMOTIONS:
        row = {}
        for split in ("clinical", "neutral"):
            part = current[(current["split"] == split) & (current["source_emotion"] == emo)]
            if len(part):
                row[split] = {"agreement": round(float(part["agree"].mean()), 4),
                              "n_ratings": len(part)}
        if row:
            out["by_emotion"][emo] = row
    confusions = current.loc[~current["agree"], ["item_id", "label"]]
    out["disagreements"] = confusions.to_dict(orient="records")
    return out


def render_markdown(block: dict[str, Any]) -> list[str]:
    if not block.get("computed"):
        return ["## Blind read", f"Not computed: {block.get('reason')}."]
    lines = ["## Blind read (readers never saw labels; see data/blind_read/PROTOCOL.md)",
             f"{block['n_current']} current ratings ({block['n_stale']} retired because the item "
             "text changed since).", "",
             "| split | agreement | ratings | items rated | target |", "|---|---:|---:|---:|---:|"]
    for split, d in block["by_split"].items():
        lines.append(f"| {split} | {d['agreement']:.1%} | {d['n_ratings']} | "
                     f"{d['items_rated']}/{d['items_in_split']} | "
                     f"{block['targets'][split]:.0%} |")
    lines += ["", "| emotion | clinical read as intended | neutral read as none |",
              "|---|---:|---:|"]
    for emo, d in block["by_emotion"].items():
        c = d.get("clinical", {})
        n = d.get("neutral", {})
        lines.append(f"| {emo} | {c.get('agreement', float('nan')):.1%} "
                     f"({c.get('n_ratings', 0)}) | {n.get('agreement', float('nan')):.1%} "
                     f"({n.get('n_ratings', 0)}) |")
    return lines
