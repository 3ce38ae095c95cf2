"""Top-1 categorisation against the intended emotion, as the NRC and classifier sections report it.

A method that names one emotion per text is judged on clinical items (the situation alone) and
on their keyword-rich twins (the same situation with emotion words): above-chance accuracy on
clinical items shows the battery is affectively legible, and McNemar across twins shows how much
explicit words add. Chance is 1/8, or 1/k over the k emotions a backend covers. On neutral
controls the same read-out asks the opposite question (:func:`neutral_own_emotion`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.constants import EMOTIONS
from .records import OMIT_IF_NONE, Record
from .stats import TestResult, binomial_vs_chance, mcnemar_exact

CHANCE = 1 / len(EMOTIONS)
"""Top-1 accuracy of a guess among the eight emotions."""
JUDGED_SPLITS: tuple[str, ...] = ("clinical", "keyword_rich")
NO_PREDICTION = "none"
TIE = "tie"
"""A method that names several emotions at once (NRC: equal top counts)."""


@dataclass(kw_only=True)
class Confusion(Record):
    """Intended emotion (rows) by predicted category (columns: the emotions, "tie", "none").

    Every judged item lands in exactly one cell, so each row sums to that emotion's items."""

    rows: list[str]
    cols: list[str]
    matrix: list[list[int]]


@dataclass(kw_only=True)
class Accuracy(Record):
    """Top-1 accuracy on one split, with a binomial test against chance."""

    n: int
    accuracy: float
    chance: float
    binomial: TestResult
    covered_emotions: list[str] | None = field(default=None, metadata=OMIT_IF_NONE)
    accuracy_covered: float | None = field(default=None, metadata=OMIT_IF_NONE)
    binomial_covered: TestResult | None = field(default=None, metadata=OMIT_IF_NONE)
    confusion: Confusion


@dataclass(kw_only=True)
class Top1(Record):
    """Accuracy on the judged splits that have items, and McNemar across clinical/twin pairs."""

    clinical: Accuracy | None = field(default=None, metadata=OMIT_IF_NONE)
    keyword_rich: Accuracy | None = field(default=None, metadata=OMIT_IF_NONE)
    mcnemar_twins: TestResult | None = field(default=None, metadata=OMIT_IF_NONE)

    def by_split(self) -> dict[str, Accuracy]:
        """The judged splits that have a block, in report order."""
        blocks = {"clinical": self.clinical, "keyword_rich": self.keyword_rich}
        return {s: b for s, b in blocks.items() if b is not None}


@dataclass(kw_only=True)
class OwnEmotion(Record):
    """How often neutral controls are categorised as their own scenario's emotion."""

    n: int
    hits: int
    rate: float | None
    chance: float
    binomial: TestResult


def _accuracy(part: pd.DataFrame, pred_col: str, credit_col: str | None,
              covered: list[str] | None) -> Accuracy:
    target = part["source_emotion"].to_numpy()
    credit = (part[credit_col].to_numpy(float) if credit_col
              else (part[pred_col].to_numpy() == target).astype(float))
    block = Accuracy(n=len(part), accuracy=round(float(credit.mean()), 4), chance=CHANCE,
                     binomial=binomial_vs_chance(float(credit.sum()), len(part), CHANCE),
                     confusion=_confusion(target, part[pred_col].tolist()))
    if covered is not None and len(covered) < len(EMOTIONS):
        mask = np.isin(target, covered)
        if mask.any():
            block.covered_emotions = covered
            block.accuracy_covered = round(float(credit[mask].mean()), 4)
            block.binomial_covered = binomial_vs_chance(float(credit[mask].sum()),
                                                        int(mask.sum()), 1 / len(covered))
    return block


def _confusion(target: np.ndarray, preds: list[str]) -> Confusion:
    labels = list(EMOTIONS)
    cols = [*labels, TIE, NO_PREDICTION]
    matrix = [[sum(1 for t, p in zip(target, preds, strict=True) if t == a and p == b)
               for b in cols] for a in labels]
    return Confusion(rows=labels, cols=cols, matrix=matrix)


def _mcnemar_twins(frame: pd.DataFrame, pred_col: str, credit_col: str | None
                   ) -> TestResult | None:
    """Clinical item vs its keyword-rich twin, each judged correct or not."""
    twins = frame[frame["split"] == "keyword_rich"]
    by_id = frame.set_index("id")
    twins = twins[twins["source_id"].map(lambda i: i in by_id.index).astype(bool)]
    if twins.empty:
        return None

    def correct(ids: pd.Series) -> np.ndarray:
        rows = by_id.loc[ids]
        if credit_col:
            return rows[credit_col].to_numpy(float) >= 1.0
        return (rows[pred_col] == rows["source_emotion"]).to_numpy()

    return mcnemar_exact(correct(twins["source_id"]), correct(twins["id"]))


def top1(frame: pd.DataFrame, pred_col: str, credit_col: str | None = None,
         covered: list[str] | None = None) -> Top1:
    """Top-1 blocks for ``pred_col`` (credit per item from ``credit_col`` when ties share it).

    ``covered`` lists the emotions a backend can predict; when it lacks some, accuracy is also
    given over the items of the covered emotions against chance 1/k.
    """
    blocks: dict[str, Accuracy] = {}
    for split in JUDGED_SPLITS:
        part = frame[frame["split"] == split]
        if not part.empty:
            blocks[split] = _accuracy(part, pred_col, credit_col, covered)
    return Top1(**blocks, mcnemar_twins=_mcnemar_twins(frame, pred_col, credit_col))


def neutral_own_emotion(frame: pd.DataFrame, pred_col: str, covered: list[str] | None = None
                        ) -> OwnEmotion | None:
    """How often a neutral control is categorised as its own scenario's emotion.

    A control with the affect removed should land on its scenario's emotion no more often than
    chance (1/8, or 1/k over the k emotions a backend covers); a higher rate means the neutrals
    keep a trace of their clinical story. One-sided binomial test against chance.
    """
    part = frame[frame["split"] == "neutral"]
    if part.empty:
        return None
    emotions = covered or list(EMOTIONS)
    part = part[part["source_emotion"].isin(emotions)]
    hits = int((part[pred_col] == part["source_emotion"]).sum())
    chance = 1 / len(emotions)
    return OwnEmotion(n=len(part), hits=hits,
                      rate=round(hits / len(part), 4) if len(part) else None,
                      chance=round(chance, 4),
                      binomial=binomial_vs_chance(float(hits), len(part), chance))
