"""The battery as data: read ``data/stimuli``, complete the rows, and serve splits and groupings.

``load_battery()`` is the offline twin of ``load_dataset("<org>/affect-battery")``: the same five
splits and features, read from the files shipped inside the installed package.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .constants import COLUMNS, EMOTIONS, LABELS, SPLITS
from .findings import Finding
from .ids import parse_id
from .items import complete_items, read_items, to_typed_frame
from .paths import stimuli_dir
from .textstats import jaccard, word_set

if TYPE_CHECKING:
    import datasets


def stimulus_files(root: str | Path | None = None) -> list[Path]:
    """Source files in a stable order: one per emotion, then complex_neutral (if present)."""
    base = Path(root) if root is not None else stimuli_dir()
    names = [*EMOTIONS, "complex_neutral"]
    return [base / f"{n}.jsonl" for n in names if (base / f"{n}.jsonl").exists()]


def read_battery_with_findings(root: str | Path | None = None
                               ) -> tuple[pd.DataFrame, list[Finding]]:
    """The full table with provenance columns, plus completion findings (id vs given values)."""
    files = stimulus_files(root)
    if not files:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in (*COLUMNS, "_file", "_line")})
        empty["word_count"] = empty["word_count"].astype("int64")
        empty["sentence_count"] = empty["sentence_count"].astype("int64")
        return to_typed_frame(empty), []
    raws = [read_items(f) for f in files]  # InputError names the file and line
    frame, findings = complete_items(pd.concat(raws, ignore_index=True))
    return frame, findings


def battery_frame(root: str | Path | None = None, provenance: bool = False) -> pd.DataFrame:
    """The battery as one DataFrame in ``COLUMNS`` order (split order, then file order)."""
    frame, _ = read_battery_with_findings(root)
    order = {s: i for i, s in enumerate(SPLITS)}
    frame = frame.assign(_split_order=frame["split"].map(order))
    frame = frame.sort_values(["_split_order"], kind="stable").drop(columns="_split_order")
    cols = [*COLUMNS, "_file", "_line"] if provenance else list(COLUMNS)
    return frame[cols].reset_index(drop=True)


def features() -> datasets.Features:
    """Typed features: ``emotion`` is a ClassLabel over the 8 primaries plus ``neutral``."""
    import datasets

    string = datasets.Value("string")
    return datasets.Features({
        "id": string,
        "split": string,
        "emotion": datasets.ClassLabel(names=list(LABELS)),
        "source_emotion": string,
        "intensity": string,
        "has_keywords": datasets.Value("bool"),
        "domain": datasets.Value("int32"),
        "domain_label": string,
        "matched_control_id": string,
        "source_id": string,
        "word_count": datasets.Value("int32"),
        "sentence_count": datasets.Value("int32"),
        "text": string,
        "version_added": string,
    })


def frame_to_records(frame: pd.DataFrame) -> dict[str, list]:
    """Column lists with plain Python values (None for missing), ready for ``datasets``."""
    out: dict[str, list] = {}
    for col in COLUMNS:
        values = frame[col].tolist()
        out[col] = [None if (v is None or v is pd.NA or (isinstance(v, float) and v != v))
                    else (int(v) if col in ("domain", "word_count", "sentence_count") else v)
                    for v in values]
    return out


def load_battery(root: str | Path | None = None) -> datasets.DatasetDict:
    """The battery as a ``datasets.DatasetDict`` with the five splits (possibly empty in drafts)."""
    import datasets

    frame = battery_frame(root)
    feats = features()
    splits = {}
    for split in SPLITS:
        part = frame[frame["split"] == split]
        splits[split] = datasets.Dataset.from_dict(frame_to_records(part), features=feats,
                                                   split=datasets.NamedSplit(split))
    return datasets.DatasetDict(splits)


def _scenario(item_id: str) -> str:
    return parse_id(item_id).scenario


def matched_pairs(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Clinical items beside their neutral controls, with length and word-overlap statistics."""
    frame = battery_frame() if frame is None else frame
    clinical = frame[frame["split"] == "clinical"]
    by_id = frame.set_index("id")
    rows = []
    for _, c in clinical.iterrows():
        nid = c["matched_control_id"]
        if nid not in by_id.index:
            continue
        n = by_id.loc[nid]
        rows.append({
            "scenario": _scenario(c["id"]),
            "emotion": c["emotion"],
            "domain": c["domain"],
            "domain_label": c["domain_label"],
            "clinical_id": c["id"],
            "neutral_id": nid,
            "clinical_text": c["text"],
            "neutral_text": n["text"],
            "clinical_words": int(c["word_count"]),
            "neutral_words": int(n["word_count"]),
            "word_diff_pct": 100 * abs(int(n["word_count"]) - int(c["word_count"]))
            / int(c["word_count"]),
            "same_sentences": int(n["sentence_count"]) == int(c["sentence_count"]),
            "jaccard": jaccard(word_set(c["text"]), word_set(n["text"])),
        })
    return pd.DataFrame(rows)


def quadruplets(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per twinned scenario: neutral, moderate (domains 1-3), clinical and keyword-rich.

    Content is held fixed across the four texts while affect and keywords vary, which is what
    makes within-scenario contrasts (probing, patching, steering) interpretable.
    """
    frame = battery_frame() if frame is None else frame
    by_id = frame.set_index("id")
    rows = []
    for _, c in frame[frame["split"] == "clinical"].iterrows():
        p = parse_id(c["id"])
        kid = f"K-{p.emotion}-d{p.domain}-{p.n}"
        if kid not in by_id.index:
            continue
        row = {"scenario": p.scenario, "emotion": p.emotion, "domain": p.domain}
        for split, prefix in (("neutral", "N"), ("moderate", "M"), ("clinical", "C"),
                              ("keyword_rich", "K")):
            iid = f"{prefix}-{p.emotion}-d{p.domain}-{p.n}"
            present = iid in by_id.index
            row[f"{split}_id"] = iid if present else None
            row[f"{split}_text"] = by_id.loc[iid, "text"] if present else None
        rows.append(row)
    return pd.DataFrame(rows)
