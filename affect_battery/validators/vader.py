"""Bag-of-words sentiment (VADER): does valence leak through the lexicon, and through which words?

A clinical item may legitimately score more negative than its neutral: VADER rates situational
words (died, lost, refused) that carry the situation itself. What the battery must show is that
the words driving the difference are situational, never emotion names. ``drivers`` lists them,
and :func:`vader_section` checks each against the emotion-term lexicon.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from ..core.constants import SPLITS
from .describe import Summary, by_split, matched_values
from .lexicon import load_lexicon
from .records import Record
from .stats import TestResult, mann_whitney, wilcoxon_paired

TOP_DRIVERS = 25

_WORD = re.compile(r"[a-z']+")


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def compound_scores(texts: Iterable[str]) -> list[float]:
    """VADER compound score per text, in [-1, 1]."""
    analyzer = _analyzer()
    return [float(analyzer.polarity_scores(t)["compound"]) for t in texts]


def lexicon_words(text: str) -> list[tuple[str, float]]:
    """VADER-lexicon words in a text with their valence (what the compound is built from)."""
    lex = _analyzer().lexicon
    return [(w, float(lex[w])) for w in _WORD.findall(text.lower()) if w in lex]


def drivers(texts_a: Sequence[str], texts_b: Sequence[str], top: int = 25,
            labels: tuple[str, str] = ("clinical", "neutral")) -> pd.DataFrame:
    """VADER words ranked by how much they push group A's valence away from group B's.

    ``contribution`` = valence x (count in A - count in B): the summed lexicon evidence behind
    the difference in compound scores, with per-group counts so a reader can judge each word.
    """
    ca: Counter[str] = Counter()
    cb: Counter[str] = Counter()
    valence: dict[str, float] = {}
    for texts, counter in ((texts_a, ca), (texts_b, cb)):
        for t in texts:
            for w, v in lexicon_words(t):
                counter[w] += 1
                valence[w] = v
    rows = [{"word": w, "valence": valence[w], f"count_{labels[0]}": ca[w],
             f"count_{labels[1]}": cb[w], "contribution": valence[w] * (ca[w] - cb[w])}
            for w in set(ca) | set(cb)]
    frame = pd.DataFrame(rows, columns=["word", "valence", f"count_{labels[0]}",
                                        f"count_{labels[1]}", "contribution"])
    if frame.empty:
        return frame
    frame["abs"] = frame["contribution"].abs()
    frame = frame.sort_values(["abs", "word"], ascending=[False, True]).drop(columns="abs")
    return frame.head(top).reset_index(drop=True)


@dataclass(kw_only=True)
class Driver(Record):
    """A VADER word behind the clinical/neutral difference, with its count in every split."""

    word: str
    valence: float
    contribution: float
    counts: dict[str, int]


@dataclass(kw_only=True)
class VaderSection(Record):
    """The ``vader`` block of the defence report."""

    by_split: dict[str, Summary]
    clinical_vs_neutral_pairs: TestResult | None
    clinical_vs_neutral_groups: TestResult | None
    drivers: list[Driver]
    drivers_that_are_emotion_terms: list[str]


def vader_section(frame: pd.DataFrame) -> VaderSection:
    """Compound scores (added to ``frame`` as ``vader_compound``), tests and drivers."""
    frame["vader_compound"] = compound_scores(frame["text"])
    c, n = matched_values(frame, "vader_compound")
    texts = {s: frame.loc[frame["split"] == s, "text"].tolist() for s in SPLITS}
    counts = {s: Counter(w for t in texts[s] for w, _ in lexicon_words(t)) for s in SPLITS}
    rows = [Driver(word=rec["word"], valence=rec["valence"],
                   contribution=round(float(rec["contribution"]), 3),
                   counts={s: counts[s][rec["word"]] for s in SPLITS})
            for rec in drivers(texts["clinical"], texts["neutral"], top=TOP_DRIVERS)
            .to_dict(orient="records")]
    lexicon = load_lexicon()
    return VaderSection(
        by_split=by_split(frame, "vader_compound"),
        clinical_vs_neutral_pairs=wilcoxon_paired(c, n, "two-sided") if len(c) else None,
        clinical_vs_neutral_groups=mann_whitney(c, n) if len(c) else None,
        drivers=rows,
        # only unambiguous (error-tier) terms: a review word alone ("smile") is not one
        drivers_that_are_emotion_terms=[r.word for r in rows
                                        if any(h.tier == "error" for h in lexicon.screen(r.word))])
