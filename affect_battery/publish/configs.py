"""The export's configs as Arrow tables: what each parquet file holds and the card describes.

``default`` has the five splits of items; ``norms`` one row per rating; ``pairs`` one row per
clinical / neutral pair; ``quadruplets`` one row per twinned scenario. The tables are built here
once, from the battery frame, and both the parquet writer and the card's ``dataset_info`` read
them, so the sizes and counts on the card are those of the files beside it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..core.battery import matched_pairs, quadruplets
from ..core.columns import (
    EXTRA_CONFIGS,
    NORMS_CONFIG,
    PAIRS_CONFIG,
    QUADRUPLETS_CONFIG,
    SPEC,
    Column,
    arrow_table,
    parquet_name,
)
from ..core.constants import SPLITS
from ..core.norms import ratings_table

DEFAULT_CONFIG = "default"


@dataclass(frozen=True)
class ConfigTables:
    """One config: its columns and, per split, its Arrow table and the parquet path."""

    name: str
    spec: tuple[Column, ...]
    splits: dict[str, pa.Table]

    def path(self, split: str) -> str:
        return parquet_name(split, self.name)


def parquet_bytes(table: pa.Table) -> bytes:
    """The parquet file of a table; deterministic (no statistics, no dictionary pages)."""
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", use_dictionary=False,
                   write_statistics=False, store_schema=True)
    return buf.getvalue()


def config_tables(frame: pd.DataFrame, ratings: pd.DataFrame | None = None
                  ) -> list[ConfigTables]:
    """Every config of the export, ``default`` first; ``frame`` is in the canonical row order.

    ``ratings`` is the norms table (default: computed from the stored ratings).
    """
    default = ConfigTables(DEFAULT_CONFIG, SPEC, {
        s: arrow_table(frame[frame["split"] == s], SPEC) for s in SPLITS})
    sources = {
        NORMS_CONFIG: ratings_table(frame) if ratings is None else ratings,
        PAIRS_CONFIG: matched_pairs(frame),
        QUADRUPLETS_CONFIG: quadruplets(frame),
    }
    extra = []
    for name, (split, spec) in EXTRA_CONFIGS.items():
        table = sources[name]
        if table.empty:  # an empty draft battery: the columns still exist
            table = pd.DataFrame({c.name: pd.Series(dtype=object) for c in spec})
        extra.append(ConfigTables(name, spec, {split: arrow_table(table, spec)}))
    return [default, *extra]
