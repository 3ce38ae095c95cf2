"""The battery table's columns, declared once: name, type, nullability, and every derived form.

The same columns reach users through four doors: the pandas frame of ``battery_frame()``, the
``datasets`` features of ``load_battery()``, the Arrow schema of the exported parquet files, and
the ``dataset_info`` YAML of the Hub card. Each is derived here from one declaration, so the
doors cannot drift apart.

Two groups: *stimulus* columns (what the item is; they define the battery's digest) and *norm*
columns (how independent readers read it; computed from ``data/norms/ratings.jsonl`` and
absent from the digest, so a new rating never changes what the battery "is").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from .constants import LABELS, NORM_LABELS, SPLITS

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa

Kind = Literal["string", "int32", "bool", "float32", "class_label"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = True
    doc: str = ""


STIMULUS_SPEC: tuple[Column, ...] = (
    Column("id", "string", False, "unique id; encodes split, emotion, domain and scenario"),
    Column("scenario", "string", False,
           "the id without its split prefix: shared by a scenario's clinical, neutral, "
           "moderate and keyword-rich items"),
    Column("split", "string", False, "clinical, neutral, moderate, keyword_rich, complex_neutral"),
    Column("emotion", "class_label", False, "Plutchik primary, or neutral for the controls"),
    Column("source_emotion", "string", True, "emotion of the scenario (null: complex_neutral)"),
    Column("intensity", "string", False, "peak, moderate or none"),
    Column("has_keywords", "bool", False, "true only for keyword_rich twins"),
    Column("domain", "int32", True, "1-6 (null: complex_neutral)"),
    Column("domain_label", "string", False, "the domain, or the complex_neutral theme"),
    Column("matched_control_id", "string", True, "clinical <-> neutral link"),
    Column("source_id", "string", True, "moderate / keyword_rich -> their clinical item"),
    Column("word_count", "int32", False, "whitespace tokens"),
    Column("sentence_count", "int32", False, "terminal punctuation runs"),
    Column("text", "string", False, "the vignette"),
    Column("version_added", "string", False, "battery version that added the item"),
)

AI_NORM_SPEC: tuple[Column, ...] = (
    Column("norm_n", "int32", False,
           "current reads of this exact text by AI readers (0: not normed)"),
    Column("norm_agreement", "float32", True,
           "share of AI reads giving the intended label (the emotion, or none for controls)"),
    Column("norm_intensity_mean", "float32", True, "mean intensity read by AI readers, 0-3"),
    Column("norm_intensity_sd", "float32", True, "sample SD of the AI intensity reads"),
    *(Column(f"norm_p_{lab}", "float32", True, f"share of AI reads labelled {lab}")
      for lab in NORM_LABELS),
)
"""Machine-reader norms: the ``norm_*`` columns count AI (language-model) readers only."""

HUMAN_NORM_SPEC: tuple[Column, ...] = (
    Column("human_norm_n", "int32", False,
           "current reads of this exact text by human raters (0: no human norms yet)"),
    Column("human_norm_agreement", "float32", True,
           "share of human reads giving the intended label"),
    Column("human_norm_intensity_mean", "float32", True, "mean intensity read by humans, 0-3"),
    Column("human_norm_intensity_sd", "float32", True, "sample SD of the human intensity reads"),
)
"""Human-rater norms, kept in their own columns so they are never pooled with machine reads."""

NORM_SPEC: tuple[Column, ...] = (*AI_NORM_SPEC, *HUMAN_NORM_SPEC)

SPEC: tuple[Column, ...] = (*STIMULUS_SPEC, *NORM_SPEC)

RATING_SPEC: tuple[Column, ...] = (
    Column("reader", "string", False, "anonymous reader id (one reader, one list)"),
    Column("rater_type", "string", False, "ai (language-model reader) or human"),
    Column("round", "int32", False, "reading round (1 = first read of the original texts)"),
    Column("cycle", "int32", False, "counterbalancing cycle within the round"),
    Column("list", "int32", False, "list within the cycle"),
    Column("instruction", "string", False, "version of the fixed instruction"),
    Column("item_id", "string", False, "the item read"),
    Column("text_sha256", "string", False, "SHA-256 of the exact text read"),
    Column("current", "bool", False, "the text read is the item's current text"),
    Column("label", "string", False, "the emotion read, or none"),
    Column("intensity", "int32", False, "0 none, 1 mild, 2 clear, 3 strong"),
    Column("natural", "string", True, "did the text read as natural and coherent (yes/no)"),
)
RATING_COLUMNS: tuple[str, ...] = tuple(c.name for c in RATING_SPEC)

_TEXTS = ("neutral", "moderate", "clinical", "keyword_rich")
PAIR_SPEC: tuple[Column, ...] = (
    Column("scenario", "string", False, "the scenario both texts belong to"),
    Column("emotion", "class_label", False, "the clinical item's emotion"),
    Column("domain", "int32", False, "1-6"),
    Column("domain_label", "string", False, "the domain"),
    Column("clinical_id", "string", False, "the clinical item"),
    Column("neutral_id", "string", False, "its matched neutral control"),
    Column("clinical_text", "string", False, "the clinical vignette"),
    Column("neutral_text", "string", False, "the neutral control"),
    Column("clinical_words", "int32", False, "word count of the clinical text"),
    Column("neutral_words", "int32", False, "word count of the neutral text"),
)
"""One row per clinical / neutral pair (the ``pairs`` config)."""
QUADRUPLET_SPEC: tuple[Column, ...] = (
    Column("scenario", "string", False, "the twinned scenario"),
    Column("emotion", "class_label", False, "the scenario's emotion"),
    Column("domain", "int32", False, "1-6"),
    Column("domain_label", "string", False, "the domain"),
    *(c for split in _TEXTS for c in (
        Column(f"{split}_id", "string", split == "moderate", f"the {split} item (null: none)"),
        Column(f"{split}_text", "string", split == "moderate", f"the {split} text"))),
)
"""One row per twinned scenario, its four versions side by side (the ``quadruplets`` config);
moderate rewrites exist in domains 1-3 only, so they are null elsewhere."""
STIMULUS_COLUMNS: tuple[str, ...] = tuple(c.name for c in STIMULUS_SPEC)
COLUMNS = STIMULUS_COLUMNS
"""Column order of the battery table (the stimulus columns); norms come after them."""
NORM_COLUMNS: tuple[str, ...] = tuple(c.name for c in NORM_SPEC)
AI_NORM_COLUMNS: tuple[str, ...] = tuple(c.name for c in AI_NORM_SPEC)
HUMAN_NORM_COLUMNS: tuple[str, ...] = tuple(c.name for c in HUMAN_NORM_SPEC)
ALL_COLUMNS: tuple[str, ...] = (*STIMULUS_COLUMNS, *NORM_COLUMNS)


def is_missing(value: Any) -> bool:
    """None, pandas NA or float NaN.

    >>> [is_missing(v) for v in (None, float("nan"), pd.NA, 0, "")]
    [True, True, True, False, False]
    """
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def to_python(kind: Kind, value: Any) -> Any:
    """A cell as a plain Python value of its column's kind (None when missing).

    >>> to_python("int32", 3.0), to_python("float32", 1), to_python("int32", None)
    (3, 1.0, None)
    """
    if is_missing(value):
        return None
    if kind == "int32":
        return int(value)
    if kind == "float32":
        return float(value)
    if kind == "bool":
        return bool(value)
    return value


def records(frame: pd.DataFrame, spec: tuple[Column, ...] = SPEC) -> dict[str, list]:
    """Column lists of plain Python values, ready for ``datasets`` or Arrow."""
    return {c.name: [to_python(c.kind, v) for v in frame[c.name].tolist()] for c in spec}


def features(spec: tuple[Column, ...] = SPEC) -> datasets.Features:
    """``datasets`` features: ``emotion`` is a ClassLabel over the 8 primaries plus neutral."""
    import datasets

    def one(c: Column) -> Any:
        if c.kind == "class_label":
            return datasets.ClassLabel(names=list(LABELS))
        return datasets.Value(c.kind)

    return datasets.Features({c.name: one(c) for c in spec})


def arrow_table(part: pd.DataFrame, spec: tuple[Column, ...] = SPEC) -> pa.Table:
    """One split as an Arrow table whose schema carries the HF features (emotion as int)."""
    import pyarrow as pa

    cols = records(part, spec)
    for c in spec:
        if c.kind == "class_label":
            cols[c.name] = [LABELS.index(e) for e in cols[c.name]]
    return pa.Table.from_pydict(cols, schema=features(spec).arrow_schema)


NORMS_CONFIG = "norms"
NORMS_SPLIT = "ratings"
PAIRS_CONFIG = "pairs"
QUADRUPLETS_CONFIG = "quadruplets"
EXTRA_CONFIGS: dict[str, tuple[str, tuple[Column, ...]]] = {
    NORMS_CONFIG: (NORMS_SPLIT, RATING_SPEC),
    PAIRS_CONFIG: (PAIRS_CONFIG, PAIR_SPEC),
    QUADRUPLETS_CONFIG: (QUADRUPLETS_CONFIG, QUADRUPLET_SPEC),
}
"""The export's configs beside ``default``: config name -> (its one split, its columns)."""


def parquet_name(split: str, config: str = "default") -> str:
    """Path of a split's parquet file inside an export (one shard per split).

    >>> parquet_name("clinical")
    'data/clinical-00000-of-00001.parquet'
    >>> parquet_name("ratings", "norms")
    'norms/ratings-00000-of-00001.parquet'
    >>> parquet_name("pairs", "pairs")
    'pairs/pairs-00000-of-00001.parquet'
    """
    if config in EXTRA_CONFIGS and split == EXTRA_CONFIGS[config][0]:
        return f"{config}/{split}-00000-of-00001.parquet"
    if config != "default" or split not in SPLITS:
        raise ValueError(f"unknown split {split!r} of config {config!r}")
    return f"data/{split}-00000-of-00001.parquet"
