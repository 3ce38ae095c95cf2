"""Is complex_neutral matched to clinical in length and at least as descriptively dense?

The complex_neutral split exists to catch probes that detect "a rich, detailed story" rather
than emotion, so it must be as long and as information-dense as the clinical items. Density is
measured as content words per sentence (tokens outside scikit-learn's English stop-word list),
with numerals per sentence alongside: both grow with concrete, specific description and neither
depends on affect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.textstats import sentence_count
from .records import NotComputed, Record
from .stats import TestResult, mann_whitney

_TOKEN = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*")
LENGTH_MATCH_ALPHA = 0.05
"""Lengths count as matched while a two-sided Mann-Whitney test finds no difference (p above)."""


def density(text: str) -> dict[str, float]:
    """Content words and numerals per sentence of one text."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    tokens = _TOKEN.findall(text)
    sentences = max(sentence_count(text), 1)
    content = [t for t in tokens if t.lower() not in ENGLISH_STOP_WORDS and not t[0].isdigit()]
    numerals = [t for t in tokens if t[0].isdigit()]
    return {"content_words_per_sentence": len(content) / sentences,
            "numerals_per_sentence": len(numerals) / sentences}


@dataclass(kw_only=True)
class WordCountMatch(Record):
    """Word count; the two-sided test must find no difference for the lengths to match."""

    complex_neutral_mean: float
    clinical_mean: float
    mann_whitney: TestResult


@dataclass(kw_only=True)
class DensityMatch(Record):
    """One density measure; the test asks whether complex_neutral is denser."""

    complex_neutral_mean: float
    clinical_mean: float
    mann_whitney_greater: TestResult

    @classmethod
    def of(cls, cx: np.ndarray, cl: np.ndarray) -> DensityMatch:
        """Means of both splits and the one-sided test that complex_neutral is denser."""
        return cls(complex_neutral_mean=round(float(cx.mean()), 3),
                   clinical_mean=round(float(cl.mean()), 3),
                   mann_whitney_greater=mann_whitney(cx, cl, "greater"))


@dataclass(kw_only=True)
class ComplexMatching(Record):
    """The ``complex_neutral_matching`` block of the defence report."""

    computed: bool = True
    n_complex_neutral: int
    n_clinical: int
    word_count: WordCountMatch
    content_words_per_sentence: DensityMatch
    numerals_per_sentence: DensityMatch
    length_matched: bool
    at_least_as_dense: bool


ComplexSection = ComplexMatching | NotComputed


def complex_neutral_matching(frame: pd.DataFrame) -> ComplexSection:
    """complex_neutral vs clinical: word count, and content words and numerals per sentence."""
    cx = frame[frame["split"] == "complex_neutral"]
    cl = frame[frame["split"] == "clinical"]
    if cx.empty or cl.empty:
        return NotComputed(reason="needs clinical and complex_neutral items")
    wc_x, wc_c = cx["word_count"].to_numpy(float), cl["word_count"].to_numpy(float)
    word_count = WordCountMatch(complex_neutral_mean=round(float(wc_x.mean()), 2),
                                clinical_mean=round(float(wc_c.mean()), 2),
                                mann_whitney=mann_whitney(wc_x, wc_c))
    dx = pd.DataFrame([density(t) for t in cx["text"]])
    dc = pd.DataFrame([density(t) for t in cl["text"]])
    content = DensityMatch.of(dx["content_words_per_sentence"].to_numpy(),
                              dc["content_words_per_sentence"].to_numpy())
    return ComplexMatching(
        n_complex_neutral=len(cx), n_clinical=len(cl), word_count=word_count,
        content_words_per_sentence=content,
        numerals_per_sentence=DensityMatch.of(dx["numerals_per_sentence"].to_numpy(),
                                              dc["numerals_per_sentence"].to_numpy()),
        length_matched=bool(word_count.mann_whitney.p_value > LENGTH_MATCH_ALPHA),
        at_least_as_dense=bool(content.complex_neutral_mean >= content.clinical_mean))
