"""The contextual classifier's block of the defence report.

Bag-of-words methods (VADER, NRC) cannot see what a situation means; a contextual classifier
can. It should find clinical items more emotional than their own neutral controls, rank
neutral < moderate < clinical within a scenario, categorise clinical items above chance, and
*not* categorise a neutral control as its scenario's emotion (a trace of the clinical story).
The backend is any :class:`~affect_battery.validators.classifier.Classifier`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..core.constants import EMOTIONS, LABELS
from .accuracy import OwnEmotion, Top1, neutral_own_emotion, top1
from .classifier import Classifier, p_emotional, top_emotion
from .describe import Summary, by_split, matched_values, triplets
from .records import Record
from .stats import TestResult, mann_whitney, page_trend, wilcoxon_paired


@dataclass(kw_only=True)
class Trend(Record):
    """Mean P(emotional) of neutral, moderate, clinical over full triplets, and Page's test."""

    means: list[float] | None
    test: TestResult | None


@dataclass(kw_only=True)
class ClassifierSection(Record):
    """The ``classifier`` block of the defence report."""

    name: str
    p_emotional_by_split: dict[str, Summary]
    clinical_gt_neutral_pairs: TestResult | None
    trend_neutral_moderate_clinical: Trend
    complex_neutral_vs_neutral: TestResult | None
    top1: Top1
    neutral_own_emotion: OwnEmotion | None


def classifier_section(frame: pd.DataFrame, classifier: Classifier, progress: bool = False
                       ) -> ClassifierSection:
    """Classify every text (columns ``p_emotional``, ``clf_top``, ``p_<label>`` added)."""
    probs = classifier.predict_proba(frame["text"].tolist(), progress=progress)
    frame["p_emotional"] = p_emotional(probs)
    frame["clf_top"] = top_emotion(probs)
    for j, lab in enumerate(LABELS):
        frame[f"p_{lab}"] = probs[:, j]
    covered = [e for e in EMOTIONS if e in classifier.labels]
    c, n = matched_values(frame, "p_emotional")
    trip = triplets(frame, "p_emotional")
    cx = frame.loc[frame["split"] == "complex_neutral", "p_emotional"].to_numpy(float)
    ne = frame.loc[frame["split"] == "neutral", "p_emotional"].to_numpy(float)
    return ClassifierSection(
        name=classifier.name,
        p_emotional_by_split=by_split(frame, "p_emotional"),
        clinical_gt_neutral_pairs=wilcoxon_paired(c, n, "greater") if len(c) else None,
        trend_neutral_moderate_clinical=Trend(
            means=[round(float(x), 4) for x in trip.mean(axis=0)] if len(trip) else None,
            test=page_trend(trip.T) if len(trip) > 1 else None),
        complex_neutral_vs_neutral=mann_whitney(cx, ne) if len(cx) and len(ne) else None,
        top1=top1(frame, "clf_top", covered=covered),
        neutral_own_emotion=neutral_own_emotion(frame, "clf_top", covered))
