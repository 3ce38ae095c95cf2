"""Apply the lexicon to battery items: the rule that makes the battery keyword-free.

Every split except keyword_rich must have zero error-tier hits of any category; a keyword_rich
twin must carry at least ``min_own_terms`` error-tier hits of its own emotion (it is the
positive control, and a word with a common literal sense proves nothing there). Review-tier hits
(``lexicon`` explains the two tiers) are warnings with their context: a person decides whether
"the beam" is a girder or a smile. :func:`keyword_section` is the same screen summarised for the
defence report, tiers counted apart.

Every text is screened through :func:`screen_text`: the lexicon runs on the Unicode-normalised
text (``unicode_safety.normalise``: NFKC, invisible and control characters removed, look-alike
letters folded), so "fur\u200dious" or "ｆｕｒｉｏｕｓ" is caught, and each hit is reported at its
offsets in the original text, its ``matched`` being the original characters.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import pandas as pd

from ..core.constants import SPLITS
from ..core.findings import Finding
from .lexicon import Hit, Lexicon, context_snippet, load_lexicon, own_emotion_hits
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
        context = context_snippet(text, start, end) if h.tier == "review" else ""
        out.append(replace(h, matched=text[start:end], start=start, end=end, context=context))
    return out


def _review_message(h: Hit) -> str:
    why = f"; {h.note}" if h.note else ""
    how = f" (rule: {h.rule})" if h.rule else ""
    return (f"possible emotion term {h.matched!r} ({'/'.join(h.emotions)}; lexicon entry "
            f"{h.term!r}, review tier{why}){how} at offset {h.start}: \"{h.context}\"")


def keyword_findings(frame: pd.DataFrame, lexicon: Lexicon | None = None,
                     min_own_terms: int = MIN_OWN_TERMS) -> list[Finding]:
    """Gate findings: an error for each error-tier hit outside keyword_rich and for too few
    error-tier own terms inside it; a warning (``keyword-review``) for each review-tier hit
    outside keyword_rich."""
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
            details = {"term": h.term, "matched": h.matched, "emotions": list(h.emotions),
                       "offset": h.start, "end": h.end, "tier": h.tier}
            if h.rule:
                details["rule"] = h.rule
            if h.tier == "review":
                details.update(context=h.context, note=h.note)
                out.append(Finding("keyword-review", _review_message(h), item_id, file, line,
                                   severity="warning", details=details))
                continue
            how = f" (rule: {h.rule})" if h.rule else ""
            out.append(Finding(
                "keyword",
                f"emotion term {h.matched!r} ({'/'.join(h.emotions)}; lexicon entry "
                f"{h.term!r}){how} at offset {h.start}",
                item_id, file, line, details=details))
    return out


@dataclass(kw_only=True)
class KeywordScreenSection(Record):
    """The ``keyword_screen`` block of the defence report.

    ``items_with_hits_by_split`` counts error-tier hits only (the keyword-free rule, and what
    ``export`` checks); the review tier is reported beside it, since a warning is a thing to
    look at, not a failure. The review fields have defaults so a report written before the
    tiers existed still reads back.
    """

    lexicon_surface_forms: int
    items_with_hits_by_split: dict[str, int]
    lexicon_review_forms: int = 0
    items_with_review_hits_by_split: dict[str, int] = field(default_factory=dict)
    review_hits_by_term: dict[str, int] = field(default_factory=dict)
    """Review-tier hits outside keyword_rich, by lexicon entry (most frequent first)."""


def keyword_section(frame: pd.DataFrame, lexicon: Lexicon | None = None) -> KeywordScreenSection:
    """Lexicon hits per item (added to ``frame`` as ``lexicon_hits``, error tier, and
    ``lexicon_review_hits``), counted by split."""
    lexicon = lexicon or load_lexicon()
    screened = [screen_text(t, lexicon) for t in frame["text"]]
    frame["lexicon_hits"] = [sum(h.tier == "error" for h in hs) for hs in screened]
    frame["lexicon_review_hits"] = [sum(h.tier == "review" for h in hs) for hs in screened]
    terms: Counter[str] = Counter(
        h.term for hs, split in zip(screened, frame["split"], strict=True)
        if split != ALLOWED_SPLIT for h in hs if h.tier == "review")

    def by_split(column: str) -> dict[str, int]:
        hit = frame[column] > 0
        return {s: int(((frame["split"] == s) & hit).sum()) for s in SPLITS
                if (frame["split"] == s).any()}

    return KeywordScreenSection(
        lexicon_surface_forms=lexicon.surface_forms(),
        items_with_hits_by_split=by_split("lexicon_hits"),
        lexicon_review_forms=lexicon.review_forms(),
        items_with_review_hits_by_split=by_split("lexicon_review_hits"),
        review_hits_by_term=dict(sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))))
