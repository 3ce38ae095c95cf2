"""The dataset card's YAML front matter: what the Hub and ``load_dataset`` read from README.md.

``configs`` maps the five custom split names to their parquet files, and ``dataset_info``
declares the features so ``emotion`` loads as a ClassLabel rather than a plain integer.
"""

from __future__ import annotations

import pandas as pd
import yaml

from .._version import __version__
from ..core.constants import LABELS, SPLITS


def parquet_name(split: str) -> str:
    return f"data/{split}-00000-of-00001.parquet"


def _dtype(name: str) -> object:
    if name == "emotion":
        return {"class_label": {"names": {str(i): lab for i, lab in enumerate(LABELS)}}}
    if name == "has_keywords":
        return "bool"
    if name in ("domain", "word_count", "sentence_count"):
        return "int32"
    return "string"


def front_matter(frame: pd.DataFrame) -> str:
    from ..core.constants import COLUMNS
    from .export import arrow_table

    splits = []
    for s in SPLITS:
        part = frame[frame["split"] == s].sort_values("id", kind="stable")
        splits.append({"name": s, "num_bytes": int(arrow_table(part).nbytes),
                       "num_examples": len(part)})
    n = len(frame)
    size = "n<1K" if n < 1000 else "1K<n<10K"
    meta = {
        "license": "apache-2.0",
        "language": ["en"],
        "pretty_name": "affect-battery",
        "size_categories": [size],
        "task_categories": ["text-classification"],
        "task_ids": ["multi-class-classification", "sentiment-classification"],
        "tags": ["emotion", "plutchik", "interpretability", "probing", "stimuli",
                 "keyword-free", "psychology", "minimal-pairs"],
        "version": __version__,
        "configs": [{"config_name": "default", "default": True,
                     "data_files": [{"split": s, "path": parquet_name(s)} for s in SPLITS]}],
        "dataset_info": {
            "config_name": "default",
            "features": [{"name": c, "dtype": _dtype(c)} for c in COLUMNS],
            "splits": splits,
            "dataset_size": sum(x["num_bytes"] for x in splits),
        },
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"
