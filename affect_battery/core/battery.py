"""The battery as data: read ``data/stimuli``, complete the rows, and serve splits and groupings.

``load_battery()`` is the offline twin of ``load_dataset("<org>/affect-battery")``: the same five
splits and features, read from the files shipped inside the installed package.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .._util.cache import cached_path, content_key, store
from .columns import COLUMNS, NORM_COLUMNS, SPEC, records
from .columns import features as column_features
from .constants import EMOTIONS, SPLITS
from .findings import Finding
from .ids import BadId, parse_id, scenario_of, sibling_id
from .items import complete_items, read_items, to_typed_frame
from .norms import item_norms, load_ratings
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
    key = content_key("battery-frame", files)
    cached = _cached_frame(key)
    if cached is not None:
        return cached, []
    raws = [read_items(f) for f in files]  # InputError names the file and line
    frame, findings = complete_items(pd.concat(raws, ignore_index=True))
    frame = frame.assign(scenario=frame["id"].map(_scenario))
    if not findings:  # only a clean read is cached (its findings are then known to be none)
        store(key, CACHE_SUFFIX, lambda path: _write_arrow(frame, path, _passes_row_schema(frame)))
    return frame, findings


ROW_SCHEMA_CLEAN = "affect_battery.row_schema_clean"
"""Key, in a cached table's metadata and in ``DataFrame.attrs``, saying that every row passed
the row schema (``core.schema``) when the entry was built: the gate then checks only the rows it
is given, not again the base it compares them with."""


def _passes_row_schema(frame: pd.DataFrame) -> bool:
    from .schema import row_schema_findings  # pandera: only when a cache entry is built

    return not row_schema_findings(frame)


CACHE_SUFFIX = ".arrow"
"""The cached table is an Arrow IPC file: pyarrow's IPC reader is loaded with pandas already,
where reading parquet would also import pyarrow's dataset and filesystem layers (a gate run's
largest import after the floor). No pickle: reading it back runs no code."""


def _write_arrow(frame: pd.DataFrame, path: Path, clean: bool) -> None:
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if clean:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               ROW_SCHEMA_CLEAN.encode(): b"1"})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_arrow(path: Path) -> pd.DataFrame:
    import pyarrow as pa

    with pa.OSFile(str(path), "rb") as source:
        table = pa.ipc.open_file(source).read_all()
    frame = table.to_pandas()
    frame.attrs[ROW_SCHEMA_CLEAN] = (table.schema.metadata or {}).get(
        ROW_SCHEMA_CLEAN.encode()) == b"1"
    return frame


def _cached_frame(key: str) -> pd.DataFrame | None:
    """The completed table of these exact stimulus files from an earlier run (the user cache,
    ``_util.cache``), or None. A stale or damaged entry is ignored and rebuilt."""
    path = cached_path(key, CACHE_SUFFIX)
    if path is None:
        return None
    try:
        frame = _read_arrow(path)
    except Exception:  # a damaged or foreign entry: recompute rather than fail
        return None
    clean = bool(frame.attrs.get(ROW_SCHEMA_CLEAN))
    expected = [*COLUMNS, "_file", "_line"]
    if sorted(frame.columns) != sorted(expected) or frame["id"].isna().any():
        return None
    for col in COLUMNS:  # stimulus text columns are plain objects with None, as read fresh
        if isinstance(frame[col].dtype, pd.StringDtype):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    frame = frame[expected].assign(scenario=frame["id"].map(_scenario))  # derived as when fresh
    frame.attrs[ROW_SCHEMA_CLEAN] = clean
    return frame


def _scenario(item_id: object) -> str | None:
    """The id's scenario; None for a malformed id (the schema reports that one)."""
    try:
        return scenario_of(item_id)  # type: ignore[arg-type]
    except BadId:
        return None


def order_key(item_id: str) -> tuple[int, int, int, str, int]:
    """Sort key of the one row order: split, emotion (wheel order), domain, theme, number.

    Every door to the battery (``battery_frame``, ``load_battery``, the exported parquet files)
    lists rows in this order, so row *i* is the same item whichever door it came through.

    >>> sorted(["C-anger-d1-1", "C-joy-d2-1", "N-joy-d1-1", "C-joy-d1-10", "C-joy-d1-2"],
    ...        key=order_key)
    ['C-joy-d1-2', 'C-joy-d1-10', 'C-joy-d2-1', 'C-anger-d1-1', 'N-joy-d1-1']
    """
    p = parse_id(item_id)
    emotion = EMOTIONS.index(p.emotion) if p.emotion is not None else len(EMOTIONS)
    return (SPLITS.index(p.split), emotion, p.domain or 0, p.theme or "", p.n)


def canonical_order(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` in the one row order (:func:`order_key`), index reset.

    Rows whose id does not parse (only possible in a draft being gated) keep their relative
    order after the others.
    """
    def key(item_id: object) -> tuple:
        try:
            return (0, *order_key(item_id))  # type: ignore[arg-type]
        except BadId:
            return (1,)

    keys = frame["id"].map(key)
    order = sorted(range(len(frame)), key=lambda i: keys.iloc[i])
    return frame.iloc[order].reset_index(drop=True)


def battery_frame(root: str | Path | None = None, provenance: bool = False,
                  norms: bool = False) -> pd.DataFrame:
    """The battery as one DataFrame: ``COLUMNS``, rows in :func:`canonical_order`.

    ``norms=True`` appends the per-item reading norms (``NORM_COLUMNS``), computed from the
    ratings stored beside the stimuli; they are off by default because the gate and the
    checks need only the items.
    """
    frame, _ = read_battery_with_findings(root)
    cols = [*COLUMNS, "_file", "_line"] if provenance else list(COLUMNS)
    frame = canonical_order(frame)[cols]
    if norms:
        frame = with_norms(frame, load_ratings(Path(root).parent / "norms" / "ratings.jsonl"
                                               if root is not None else None))
    return frame


def with_norms(frame: pd.DataFrame, ratings: pd.DataFrame | None = None) -> pd.DataFrame:
    """``frame`` with the ``NORM_COLUMNS`` appended (recomputed if already there); rows keep
    their order."""
    base = frame.drop(columns=[c for c in NORM_COLUMNS if c in frame])
    return base.merge(item_norms(base, ratings), on="id", how="left", validate="1:1")


def features() -> datasets.Features:
    """Typed features of ``load_battery()``: stimulus columns, then the norms."""
    return column_features(SPEC)


def load_battery(root: str | Path | None = None) -> datasets.DatasetDict:
    """The battery as a ``datasets.DatasetDict`` with the five splits (possibly empty in drafts).

    Every item carries its reading norms (``norm_*`` columns; ``norm_n = 0`` where unread).
    """
    import datasets

    frame = battery_frame(root, norms=True)
    feats = features()
    splits = {}
    for split in SPLITS:
        part = frame[frame["split"] == split]
        splits[split] = datasets.Dataset.from_dict(records(part), features=feats,
                                                   split=datasets.NamedSplit(split))
    return datasets.DatasetDict(splits)


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
            "scenario": scenario_of(c["id"]),
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
        kid = sibling_id(c["id"], "keyword_rich")
        if kid not in by_id.index:
            continue
        row = {"scenario": p.scenario, "emotion": p.emotion, "domain": p.domain,
               "domain_label": c["domain_label"]}
        for split in ("neutral", "moderate", "clinical", "keyword_rich"):
            iid = sibling_id(c["id"], split)
            present = iid in by_id.index
            row[f"{split}_id"] = iid if present else None
            row[f"{split}_text"] = by_id.loc[iid, "text"] if present else None
        rows.append(row)
    return pd.DataFrame(rows)
