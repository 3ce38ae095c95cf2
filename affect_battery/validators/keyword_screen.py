"""Apply the lexicon to battery items: the rule that makes the battery keyword-free.

Every split except keyword_rich must have zero hits of any category; a keyword_rich twin must
carry at least ``min_own_terms`` hits of its own emotion (it is the positive control).
"""

from __future__ import annotations

import pandas as pd

from ..core.findings import Finding
from .lexicon import Lexicon, load_lexicon, own_emotion_hits

MIN_OWN_TERMS = 2


def keyword_findings(frame: pd.DataFrame, lexicon: Lexicon | None = None,
                     min_own_terms: int = MIN_OWN_TERMS) -> list[Finding]:
    lexicon = lexicon or load_lexicon()
    out: list[Finding] = []
    for rec in frame.to_dict(orient="records"):
        item_id, file = rec.get("id"), rec.get("_file")
        line = rec.get("_line")
        line = None if line is None or pd.isna(line) else int(line)
        hits = lexicon.screen(rec["text"])
        if rec.get("split") == "keyword_rich":
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
