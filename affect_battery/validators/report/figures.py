"""PNG figures of the defence report (matplotlib, headless): box plots by split, confusion
matrices, lexical separability against its targets.

Part of the report's rendering (``write_report`` calls :func:`write_figures` and lists in
report.md exactly the files it returns); matplotlib is imported only when a figure is drawn.
Every figure says what it counts: a confusion matrix has a cell for every judged item ("tie" and
"none" included, so each row sums to that emotion's items), and its title gives n and accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..._util.plotting import pyplot, save_figure
from ...core.constants import SPLITS
from ..accuracy import Accuracy
from ..defence import DefenceReport
from ..lexical import Separability


def _box_by_split(items: pd.DataFrame, col: str, title: str, ylabel: str, path: Path) -> None:
    plt = pyplot()
    splits = [s for s in SPLITS if (items["split"] == s).any() and col in items]
    data = [items.loc[items["split"] == s, col].dropna().to_numpy() for s in splits]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.boxplot(data, tick_labels=[f"{s}\n(n={len(d)})" for s, d in zip(splits, data,
                                                                       strict=True)],
               showmeans=True)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, path)


def text_colour(rgba: tuple[float, ...]) -> str:
    """Black on light cells, white on dark ones (relative luminance of sRGB, WCAG weights).

    >>> text_colour((1.0, 1.0, 1.0, 1.0)), text_colour((0.03, 0.19, 0.42, 1.0))
    ('black', 'white')
    """
    r, g, b = rgba[:3]
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def confusion_title(label: str, split: str, block: Accuracy) -> str:
    """The figure's title: method, split, n and accuracy (and chance), so it stands alone."""
    return (f"{label} top-1 on {split}: n = {block.n}, accuracy {block.accuracy:.1%} "
            f"(chance {block.chance:.1%})")


def _confusion(block: Accuracy, title: str, path: Path) -> None:
    plt = pyplot()
    conf = block.confusion
    m = np.asarray(conf.matrix, float)
    fig, ax = plt.subplots(figsize=(7.5, 5.8), dpi=120)
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=max(float(m.max()), 1.0))
    fig.colorbar(im, ax=ax, label="items", fraction=0.046, pad=0.04)
    ax.set_xticks(range(len(conf.cols)), conf.cols, rotation=45, ha="right")
    ax.set_yticks(range(len(conf.rows)),
                  [f"{r} ({int(t)})" for r, t in zip(conf.rows, m.sum(axis=1), strict=True)])
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=8,
                        color=text_colour(im.cmap(im.norm(m[i, j]))))
    ax.set_xlabel("predicted (tie: several emotions share the top count; none: no emotion)")
    ax.set_ylabel("intended (items)")
    ax.set_title(title, fontsize=10)
    save_figure(fig, path)


def _lexical(lex: Separability, path: Path) -> None:
    """TF-IDF and word-count AUROC per emotion and overall, with each target drawn."""
    plt = pyplot()
    cvn, t = lex.clinical_vs_neutral, lex.targets
    names = ["overall", *cvn.by_emotion]
    tfidf = [cvn.tfidf_auroc, *(e.tfidf_auroc for e in cvn.by_emotion.values())]
    wc = [cvn.wordcount_auroc, *(e.wordcount_auroc for e in cvn.by_emotion.values())]
    tfidf_target = [t.tfidf_auroc_max] + [t.tfidf_auroc_per_emotion_max] * len(cvn.by_emotion)
    x = np.arange(len(names))
    width = 0.38
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    ax.bar(x - width / 2, tfidf, width, label="TF-IDF (uni+bigrams)", color="#4477aa")
    ax.bar(x + width / 2, wc, width, label="word count", color="#ccbb44")
    for xi, target in zip(x, tfidf_target, strict=True):
        ax.hlines(target, xi - width, xi, colors="#223355", linestyles="--", linewidth=1.5)
    ax.hlines([t.wordcount_auroc_max] * len(x), x, x + width, colors="#776611",
              linestyles="--", linewidth=1.5)
    ax.axhline(0.5, color="grey", linewidth=0.8, label="chance (0.5)")
    ax.plot([], [], "--", color="#223355", label=f"TF-IDF target (<= {t.tfidf_auroc_max:.2f} "
            f"overall, <= {t.tfidf_auroc_per_emotion_max:.2f} per emotion)")
    ax.plot([], [], "--", color="#776611", label=f"word-count target (<= "
            f"{t.wordcount_auroc_max:.2f})")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("clinical vs neutral AUROC (out of fold)")
    verdict = "meets its targets" if lex.meets_targets else "misses a target"
    ax.set_title(f"Lexical separability: {lex.n_items} items, {lex.n_folds} folds "
                 f"{lex.folds}; {verdict}", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3,
              frameon=False)
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, path)


def write_figures(report: DefenceReport, items: pd.DataFrame, out: Path) -> list[Path]:
    """Write every figure the report supports into ``out``; returns their paths (report.md
    names exactly these)."""
    paths = []
    if isinstance(report.lexical, Separability):
        p = out / "lexical_separability.png"
        _lexical(report.lexical, p)
        paths.append(p)
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
            _confusion(block, confusion_title(label, split, block), p)
            paths.append(p)
    return paths
