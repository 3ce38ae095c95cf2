"""The report folder ``validate`` and ``demo`` write: report.json, report.md, items.csv, PNGs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..._util.atomic import atomic_dir
from ..defence import DefenceReport
from .figures import write_figures
from .markdown import render_markdown


def write_report(report: DefenceReport, items: pd.DataFrame, out_dir: str | Path,
                 figures: bool = True, extra_files: Mapping[str, str] | None = None) -> Path:
    """Write report.json, report.md, items.csv and the figures atomically (built beside the
    target, then swapped in), so a failed run never leaves a half-written report."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        (tmp / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n",
                                         encoding="utf-8")
        items.to_csv(tmp / "items.csv", index=False, float_format="%.6f")
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        # Figures first, so report.md lists exactly the files that were written.
        written = [p.name for p in write_figures(report, items, tmp)] if figures else []
        (tmp / "report.md").write_text(render_markdown(report, written), encoding="utf-8")
    return out_dir
