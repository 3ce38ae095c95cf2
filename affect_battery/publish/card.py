"""Render the dataset card and datasheet from the data and the defence report.

The templates in ``cards/`` hold prose and ``{placeholders}``; the battery's own tables are
produced here from the frame, everything quoted from the defence report by its one renderer
(:mod:`affect_battery.validators.report`), and the analyses headline from an optional
``results.json``. Rendering is deterministic, so a card can be verified by rendering it again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..analyses.report import card_section
from ..core.columns import STIMULUS_SPEC
from ..core.constants import DOMAIN_LABELS, EMOTIONS, LABELS, SPLITS
from ..core.paths import package_data_dir
from ..validators.defence import DefenceReport
from ..validators.report import card_values, datasheet_values
from .configs import ConfigTables, config_tables
from .hub_yaml import Release, front_matter

DEFAULT_REPO_ID = "affect-battery/affect-battery"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def cards_dir() -> Path:
    """The card templates: packaged in the wheel, or ``cards/`` beside ``data/`` in a checkout."""
    packaged = Path(__file__).resolve().parent.parent / "_cards"
    if packaged.is_dir():
        return packaged
    return package_data_dir().parent / "cards"


def fill(template: str, values: Mapping[str, str]) -> str:
    """The template with every ``{placeholder}`` replaced; a missing value is a bug (KeyError)."""
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise KeyError(f"card template placeholder {{{key}}} has no value")
        return values[key]
    return _PLACEHOLDER.sub(sub, template)


def counts_table(frame: pd.DataFrame) -> str:
    """Items per emotion and split, computed from the frame the card describes."""
    header = "| emotion | " + " | ".join(SPLITS) + " |"
    lines = [header, "|---|" + "---:|" * len(SPLITS)]
    for emo in EMOTIONS:
        sub = frame[frame["source_emotion"] == emo]
        lines.append(f"| {emo} | " + " | ".join(str(int((sub["split"] == s).sum()))
                                              for s in SPLITS) + " |")
    lines.append("| total | " + " | ".join(str(int((frame["split"] == s).sum()))
                                          for s in SPLITS) + " |")
    return "\n".join(lines)


def length_table(frame: pd.DataFrame) -> str:
    """Word and sentence counts per split."""
    lines = ["| split | items | words mean | sd | min | max | sentences mean |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for s in SPLITS:
        part = frame[frame["split"] == s]
        if part.empty:
            continue
        wc = part["word_count"].astype(float)
        lines.append(f"| {s} | {len(part)} | {wc.mean():.1f} | {wc.std(ddof=1):.1f} | "
                     f"{int(wc.min())} | {int(wc.max())} | "
                     f"{part['sentence_count'].astype(float).mean():.2f} |")
    return "\n".join(lines)


_CONFIG_ROWS = {
    "default": "one item (five splits: the conditions, not train/test partitions)",
    "norms": "one rating: reader, item, SHA-256 of the text read, label, intensity",
    "pairs": "one clinical item beside its neutral control: ids, texts, word counts",
    "quadruplets": "one twinned scenario: neutral, moderate (null outside domains 1-3), "
                   "clinical and keyword-rich ids and texts",
}


def configs_table(configs: list[ConfigTables]) -> str:
    """Each config, its splits and row counts, and what one row is."""
    lines = ["| config | splits (rows) | one row is |", "|---|---|---|"]
    for c in configs:
        splits = ", ".join(f"`{s}` ({t.num_rows})" for s, t in c.splits.items())
        lines.append(f"| `{c.name}` | {splits} | {_CONFIG_ROWS[c.name]} |")
    return "\n".join(lines)


def columns_table() -> str:
    """The item columns with their types and meanings, from their one declaration."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    for c in STIMULUS_SPEC:
        kind = "class label" if c.kind == "class_label" else c.kind
        lines.append(f"| {c.name} | {kind} | {c.doc} |")
    return "\n".join(lines)


def _report(report: DefenceReport | Mapping[str, Any]) -> DefenceReport:
    """The typed report; export hands over report.json's content (written or read back)."""
    return report if isinstance(report, DefenceReport) else DefenceReport.from_dict(report)


def render_card(frame: pd.DataFrame, report: DefenceReport | Mapping[str, Any],
                results: Mapping[str, Any] | None = None, repo_id: str = DEFAULT_REPO_ID,
                ratings: pd.DataFrame | None = None,
                configs: list[ConfigTables] | None = None) -> str:
    """README.md of the Hub folder: YAML front matter plus the rendered template.

    ``configs`` are the export's tables (default: built from ``frame`` and ``ratings``).
    """
    configs = config_tables(frame, ratings) if configs is None else configs
    release = Release(repo_id)
    themes = sorted(frame.loc[frame["split"] == "complex_neutral", "domain_label"].unique())
    values = {
        "version": __version__,
        "repo_id": repo_id,
        "tag": release.tag,
        "configs_table": configs_table(configs),
        "columns_table": columns_table(),
        "counts_table": counts_table(frame),
        "labels": ", ".join(LABELS),
        "domains": "; ".join(f"{d} {lab}" for d, lab in DOMAIN_LABELS.items()),
        "themes": ", ".join(themes) or "none",
        "length_table": length_table(frame),
        **card_values(_report(report)),
        "analyses_section": card_section(results),
    }
    body = fill((cards_dir() / "dataset_card.md").read_text(encoding="utf-8"), values)
    return front_matter(configs, release) + "\n" + body


def render_datasheet(frame: pd.DataFrame, report: DefenceReport | Mapping[str, Any],
                     repo_id: str = DEFAULT_REPO_ID) -> str:
    """DATASHEET.md of the Hub folder, from the data and the defence report."""
    values = {
        "version": __version__,
        "repo_id": repo_id,
        "n_items": str(len(frame)),
        "split_counts": ", ".join(f"{s} {int((frame['split'] == s).sum())}" for s in SPLITS),
        **datasheet_values(_report(report)),
    }
    return fill((cards_dir() / "datasheet.md").read_text(encoding="utf-8"), values)
