"""PNG figures of the defence report (matplotlib, headless): box plots by split, confusions.

Part of the report's rendering (``write_report`` calls :func:`write_figures`); matplotlib is
imported only when a figure is drawn.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from ...core.constants import SPLITS
from ..accuracy import Confusion
from ..defence import DefenceReport


def _plt() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _box_by_split(items: pd.DataFrame, col: str, title: str, ylabel: str, path: Path) -> None:
    plt = _plt()
    splits = [s for s in SPLITS if (items["split"] == s).any() and col in items]
    data = [items.loc[items["split"] == s, col].dropna().to_numpy() for s in splits]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.boxplot(data, tick_labels=splits, showmeans=True)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def _confusion(block: Confusion, title: str, path: Path) -> None:
    plt = _plt()
    m = np.asarray(block.matrix, float)
    fig, ax = plt.subplots(figsize=(6.5, 5.5), dpi=120)
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(block.cols)), block.cols, rotation=45, ha="right")
    ax.set_yticks(range(len(block.rows)), block.rows)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("intended")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def write_figures(report: DefenceReport, items: pd.DataFrame, out: Path) -> list[Path]:
    """Write every figure the report supports into ``out``; returns their paths."""
    paths = []
    if "vader_compound" in items:
        p = out / "vader_by_split.png"
        _box_by_split(items, "vader_compound", "VADER compound by split", "compound", p)
        paths.append(p)
    if "p_emotional" in items and report.classifier is not None:
        p = out / "p_emotional_by_split.png"
        _box_by_split(items, "p_emotional", f"P(emotional) by split ({report.classifier.name})",
                      "1 - P(neutral)", p)
        paths.append(p)
    tops = {"classifier": (report.classifier.top1 if report.classifier else None, "classifier"),
            "nrc": (report.nrc.top1, "NRC")}
    for section, (top, label) in tops.items():
        if top is None:
            continue
        for split, block in top.by_split().items():
            p = out / f"confusion_{section}_{split}.png"
            _confusion(block.confusion, f"{label} top-1 on {split}", p)
            paths.append(p)
    return paths
