"""Is complex_neutral matched to clinical in length and at least as descriptively dense?

The complex_neutral split exists to catch probes that detect "a rich, detailed story" rather
than emotion, so it must be as long and as information-dense as the clinical items. Density is
measured as content words per sentence (tokens outside scikit-learn's English stop-word list),
with numerals per sentence alongside: both grow with concrete, specific description and neither
depends on affect.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from ..core.textstats import sentence_count
from .stats import mann_whitney

_TOKEN = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*")


def density(text: str) -> dict[str, float]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    tokens = _TOKEN.findall(text)
    sentences = max(sentence_count(text), 1)
    content = [t for t in tokens if t.lower() not in ENGLISH_STOP_WORDS and not t[0].isdigit()]
    numerals = [t for t in tokens if t[0].isdigit()]
    return {"content_words_per_sentence": len(content) / sentences,
            "numerals_per_sentence": len(numerals) / sentences}


def complex_neutral_matching(frame: pd.DataFrame) -> dict[str, Any]:
    cx = frame[frame["split"] == "complex_neutral"]
    cl = frame[frame["split"] == "clinical"]
    if cx.empty or cl.empty:
        return {"computed": False, "reason": "needs clinical and complex_neutral items"}
    out: dict[str, Any] = {"computed": True, "n_complex_neutral": len(cx), "n_clinical": len(cl)}
    wc_x, wc_c = cx["word_count"].to_numpy(float), cl["word_count"].to_numpy(float)
    out["word_count"] = {"complex_neutral_mean": round(float(wc_x.mean()), 2),
                         "clinical_mean": round(float(wc_c.mean()), 2),
                         "mann_whitney": mann_whitney(wc_x, wc_c).to_dict()}
    dx = pd.DataFrame([density(t) for t in cx["text"]])
    dc = pd.DataFrame([density(t) for t in cl["text"]])
    for col in dx.columns:
        out[col] = {"complex_neutral_mean": round(float(dx[col].mean()), 3),
                    "clinical_mean": round(float(dc[col].mean()), 3),
                    "mann_whitney_greater": mann_whitney(dx[col].to_numpy(), dc[col].to_numpy(),
                                                         "greater").to_dict()}
    out["length_matched"] = bool(out["word_count"]["mann_whitney"]["p_value"] > 0.05)
    out["at_least_as_dense"] = bool(
        out["content_words_per_sentence"]["complex_neutral_mean"]
        >= out["content_words_per_sentence"]["clinical_mean"])
    return out


def render_markdown(block: dict[str, Any]) -> list[str]:
    if not block.get("computed"):
        return ["## complex_neutral matching", f"Not computed: {block.get('reason')}."]
    wc = block["word_count"]
    cw = block["content_words_per_sentence"]
    nu = block["numerals_per_sentence"]
    p = wc["mann_whitney"]["p_value"]
    return ["## complex_neutral matching",
            f"- word count: complex_neutral mean {wc['complex_neutral_mean']:.1f} vs clinical "
            f"{wc['clinical_mean']:.1f}; Mann-Whitney p = {p:.3f} (target p > 0.05: "
            f"{'met' if block['length_matched'] else 'NOT met'})",
            f"- content words per sentence: {cw['complex_neutral_mean']:.2f} vs "
            f"{cw['clinical_mean']:.2f}; numerals per sentence: {nu['complex_neutral_mean']:.2f} "
            f"vs {nu['clinical_mean']:.2f} (at least as dense: "
            f"{'yes' if block['at_least_as_dense'] else 'NO'})"]



