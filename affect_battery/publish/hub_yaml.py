"""The dataset card's YAML front matter: what the Hub and ``load_dataset`` read from README.md.

``configs`` maps the five custom split names to their parquet files, and ``dataset_info``
declares the features so ``emotion`` loads as a ClassLabel rather than a plain integer.
"""

from __future__ import annotations

import pandas as pd
import yaml

from .._version import __version__
from ..core.columns import (
    NORMS_CONFIG,
    NORMS_SPLIT,
    RATING_SPEC,
    SPEC,
    arrow_table,
    parquet_name,
    yaml_features,
)
from ..core.constants import SPLITS
from ..core.norms import ratings_table


def front_matter(frame: pd.DataFrame, ratings: pd.DataFrame | None = None) -> str:
    """YAML front matter; ``ratings`` is the norms table (default: from the stored ratings)."""
    splits = []
    for s in SPLITS:
        part = frame[frame["split"] == s].sort_values("id", kind="stable")
        splits.append({"name": s, "num_bytes": int(arrow_table(part).nbytes),
                       "num_examples": len(part)})
    ratings_arrow = arrow_table(ratings_table(frame) if ratings is None else ratings,
                                RATING_SPEC)
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
                     "data_files": [{"split": s, "path": parquet_name(s)} for s in SPLITS]},
                    {"config_name": NORMS_CONFIG,
                     "data_files": [{"split": NORMS_SPLIT,
                                     "path": parquet_name(NORMS_SPLIT, NORMS_CONFIG)}]}],
        "dataset_info": [{
            "config_name": "default",
            "features": yaml_features(SPEC),
            "splits": splits,
            "dataset_size": sum(x["num_bytes"] for x in splits),
        }, {
            "config_name": NORMS_CONFIG,
            "features": yaml_features(RATING_SPEC),
            "splits": [{"name": NORMS_SPLIT, "num_bytes": int(ratings_arrow.nbytes),
                        "num_examples": ratings_arrow.num_rows}],
            "dataset_size": int(ratings_arrow.nbytes),
        }],
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"
