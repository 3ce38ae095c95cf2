"""Apply the lexicon to battery items: the rule that makes the battery keyword-free.

Every split except keyword_rich must have zero hits of any category; a keyword_rich twin must
carry at least ``min_own_terms`` hits of its own emotion (it is the positive control).
:func:`keyword_section` is the same screen summarised for the defence report.

Every text is screened through :func:`screen_text`: the lexicon runs on the Unicode-normalised
text (``unicode_safety.normalise``: NFKC, invisible and control characters removed, look-alike
letters folded), so "fur\u200dious" or "ｆｕｒｉｏｕｓ" is caught, and each hit is reported at its
offsets in the original text, its ``matched`` being the original characters.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..core.constants import SPLITS
from ..core.findings import Finding
from .lexicon import Hit, Lexicon, load_lexicon, own_emotion_hits
from .records import Record
from .unicode_safety import normalise

MIN_OWN_TERMS = 2
ALLOWED_SPLIT = "keyword_rich"
"""The only split whose items may contain lexicon terms."""


def screen_text(text: str, lexicon: Lexicon | None = None) -> list[Hit]:
    """Lexicon hits in the normalised ``text``, with offsets and ``matched`` in the original."""
    lexicon = lexicon or load_lexicon()
    if not isinstance(text, str) or not text:
        return []
    if text.isascii() and text.isprintable():  # nothing to normalise (the common case)
        return lexicon.screen(text)
    norm = normalise(text)
    if not norm.changed:
        return lexicon.screen(text)
    out = []
    for h in lexicon.screen(norm.text):
        start, end = norm.span(h.start, h.end)
        out.append(Hit(h.term, text[start:end], h.emotions, start, end))
    return out


def keyword_findings(frame: pd.DataFrame, lexicon: Lexicon | None = None,
                     min_own_terms: int = MIN_OWN_TERMS) -> list[Finding]:
    """Gate findings: any lexicon hit outside keyword_rich, too few own terms inside it."""
    lexicon = lexicon or load_lexicon()
    out: list[Finding] = []
    for rec in frame.to_dict(orient="records"):
        item_id, file = rec.get("id"), rec.get("_file")
        line = rec.get("_line")
        line = None if line is None or pd.isna(line) else int(line)
        hits = screen_text(rec["text"], lexicon)
        if rec.get("split") == ALLOWED_SPLIT:
            emotion = rec.get("source_emotion") or rec.get("emotion")
            own = own_emotion_hits(hits, emotion)
            if len(own) < min_own_terms:
                found = ", ".join(repr(h.matched) for h in own) or "none"
                out.append(Finding(
                    "keyword-rich-weak",
                    f"needs at least {min_own_terms} explicit {emotion} terms, found "
                    f"{len(own)} ({found})", item_id, file, line,
                    details={"own_terms": [h.matched for h in own]}))
            continue
        for h in hits:
            out.append(Finding(
                "keyword",
                f"emotion term {h.matched!r} ({'/'.join(h.emotions)}; lexicon entry "
                f"{h.term!r}) at offset {h.start}",
                item_id, file, line,
                details={"term": h.term, "matched": h.matched, "emotions": list(h.emotions),
                         "offset": h.start, "end": h.end}))
    return out


@dataclass(kw_only=True)
class KeywordScreenSection(Record):
    """The ``keyword_screen`` block of the defence report."""

    lexicon_surface_forms: int
    items_with_hits_by_split: dict[str, int]


def keyword_section(frame: pd.DataFrame, lexicon: Lexicon | None = None) -> KeywordScreenSection:
    """Lexicon hits per item (added to ``frame`` as ``lexicon_hits``), counted by split."""
    lexicon = lexicon or load_lexicon()
    frame["lexicon_hits"] = [len(screen_text(t, lexicon)) for t in frame["text"]]
    hit = frame["lexicon_hits"] > 0
    return KeywordScreenSection(
        lexicon_surface_forms=lexicon.surface_forms(),
        items_with_hits_by_split={s: int(((frame["split"] == s) & hit).sum()) for s in SPLITS
                                  if (frame["split"] == s).any()})
