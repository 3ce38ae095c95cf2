"""The NRC emotion lexicon (via nrclex) with our own tokenisation.

nrclex 4.x no longer analyses raw text in its constructor, and its raw-text path needs NLTK
corpora that are not available offline, so we lemmatise with simplemma and feed tokens. Older
nrclex releases name one category ``anticip``; it is normalised to ``anticipation`` here.
:func:`nrc_section` is the NRC block of the defence report: hit rates by split and top-1
category against the intended emotion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from ..core.constants import EMOTIONS
from .accuracy import NO_PREDICTION, TIE, Top1, top1
from .describe import Summary, by_split, matched_values
from .records import Record
from .stats import TestResult, wilcoxon_paired

_WORD = re.compile(r"[a-z]+")
_KEY_FIX = {"anticip": "anticipation"}
TOP1_NOTE = ("ties among the top categories earn 1/k credit; the confusion matrix shows them in "
             "its 'tie' column and texts without an emotion word in 'none', and McNemar counts "
             "both as wrong")
NRC_LICENCE = ("NRC Word-Emotion Association Lexicon (Mohammad & Turney), research use; "
               "see https://saifmohammad.com/WebPages/NRC-Emotion-Lexicon.htm")


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, frozenset[str]]:
    from nrclex import NRCLex

    raw = NRCLex().__lexicon__
    return {w: frozenset(_KEY_FIX.get(c, c) for c in cats) for w, cats in raw.items()}


@lru_cache(maxsize=65536)
def _lemma(token: str) -> str:
    import simplemma

    return simplemma.lemmatize(token, lang="en")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens with their lemma where the surface form is not in NRC."""
    lex = _lexicon()
    out = []
    for w in _WORD.findall(text.lower()):
        out.append(w if w in lex else _lemma(w))
    return out


@dataclass(frozen=True)
class NrcResult:
    n_tokens: int
    emotion_hits: int
    """Tokens associated with at least one of the eight emotions."""
    counts: dict[str, int]
    """Hits per category (eight emotions plus positive/negative)."""

    @property
    def hit_rate(self) -> float:
        return self.emotion_hits / self.n_tokens if self.n_tokens else 0.0

    def top_emotions(self) -> list[str]:
        """Emotions with the maximal count (ties kept); empty when no emotion word occurs."""
        best = max((self.counts.get(e, 0) for e in EMOTIONS), default=0)
        if best == 0:
            return []
        return [e for e in EMOTIONS if self.counts.get(e, 0) == best]


def analyse(text: str) -> NrcResult:
    """Count NRC categories over the text's tokens (feeds nrclex's own token path)."""
    from nrclex import NRCLex

    toks = tokens(text)
    nrc = NRCLex()
    nrc.load_token_list(toks)
    counts = {_KEY_FIX.get(k, k): int(v) for k, v in nrc.raw_emotion_scores.items()}
    lex = _lexicon()
    emo_set = set(EMOTIONS)
    hits = sum(1 for t in toks if lex.get(t, frozenset()) & emo_set)
    return NrcResult(len(toks), hits, counts)


def top1_credit(result: NrcResult, target: str) -> float:
    """Credit for a top-1 prediction with ties split evenly (1/k if the target is among k)."""
    top = result.top_emotions()
    return 1.0 / len(top) if target in top else 0.0


def predicted(result: NrcResult) -> str:
    """The single top emotion, "tie" when several share the top count, "none" when none occurs."""
    top = result.top_emotions()
    if len(top) == 1:
        return top[0]
    return TIE if top else NO_PREDICTION


@dataclass(kw_only=True)
class NrcSection(Record):
    """The ``nrc`` block of the defence report."""

    licence: str
    hit_rate_by_split: dict[str, Summary]
    hit_rate_clinical_vs_neutral_pairs: TestResult | None
    top1: Top1
    top1_note: str


def nrc_section(frame: pd.DataFrame) -> NrcSection:
    """Per-item NRC columns (added to ``frame``), hit-rate tests and top-1 categorisation."""
    results = [analyse(t) for t in frame["text"]]
    frame["nrc_hit_rate"] = [r.hit_rate for r in results]
    frame["nrc_top"] = [("|".join(r.top_emotions()) or NO_PREDICTION) for r in results]
    frame["nrc_credit"] = [top1_credit(r, e) if isinstance(e, str) else 0.0
                           for r, e in zip(results, frame["source_emotion"], strict=True)]
    frame["nrc_pred"] = [predicted(r) for r in results]
    c, n = matched_values(frame, "nrc_hit_rate")
    return NrcSection(
        licence=NRC_LICENCE,
        hit_rate_by_split=by_split(frame, "nrc_hit_rate"),
        hit_rate_clinical_vs_neutral_pairs=wilcoxon_paired(c, n, "two-sided") if len(c) else None,
        top1=top1(frame, "nrc_pred", credit_col="nrc_credit"),
        top1_note=TOP1_NOTE)
