"""The norms table with human raters beside machine (AI) readers, never pooled."""

from __future__ import annotations

from ..norms import Cell, NormsSection


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _cells(c: Cell) -> str:
    return f"{_pct(c.agreement)} | {_num(c.intensity_mean)} | {c.n_reads} / {c.n_items}"


def rater_table(section: NormsSection) -> list[str]:
    """Markdown lines: per split, current AI figures beside current human figures."""
    who = "participant" if section.n_human_raters == 1 else "participants"
    lines = [f"Human raters: {section.n_human_ratings} ratings by {section.n_human_raters} "
             f"{who}. {section.human_note}", "",
             "| split | AI: agreement | AI: mean intensity | AI: reads / items "
             "| human: agreement | human: mean intensity | human: reads / items |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in section.by_rater:
        lines.append(f"| {row.split} | {_cells(row.ai)} | {_cells(row.human)} |")
    return lines
