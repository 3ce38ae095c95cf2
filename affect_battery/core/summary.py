"""Descriptive statistics of the battery: counts, lengths, pair matching.

These are the numbers ``affect-battery stats`` prints and the dataset card quotes, computed from
the data rather than typed by hand.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .battery import matched_pairs
from .constants import EMOTIONS, EXPECTED_COUNTS, SPLITS


def _describe(values: pd.Series) -> dict[str, float]:
    if values.empty:
        return {"n": 0}
    return {"n": int(values.size), "mean": round(float(values.mean()), 2),
            "sd": round(float(values.std(ddof=1)), 2) if values.size > 1 else 0.0,
            "min": int(values.min()), "max": int(values.max())}


def battery_summary(frame: pd.DataFrame) -> dict[str, Any]:
    counts = {s: int((frame["split"] == s).sum()) for s in SPLITS}
    by_emotion = {}
    for emo in EMOTIONS:
        sub = frame[frame["source_emotion"] == emo]
        by_emotion[emo] = {s: int((sub["split"] == s).sum()) for s in SPLITS if s !=
                           "complex_neutral"}
    lengths = {s: _describe(frame.loc[frame["split"] == s, "word_count"]) for s in SPLITS}
    pairs = matched_pairs(frame)
    pair_stats: dict[str, Any] = {"n_pairs": len(pairs)}
    if len(pairs):
        pair_stats.update({
            "word_diff_pct_mean": round(float(pairs["word_diff_pct"].mean()), 2),
            "word_diff_pct_max": round(float(pairs["word_diff_pct"].max()), 2),
            "same_sentence_count_rate": round(float(pairs["same_sentences"].mean()), 3),
            "jaccard_mean": round(float(pairs["jaccard"].mean()), 3),
            "jaccard_min": round(float(pairs["jaccard"].min()), 3),
        })
    domains = (frame[frame["domain"].notna()]
               .groupby(["source_emotion", "domain"])["domain_label"].first())
    return {
        "n_items": len(frame),
        "counts": counts,
        "expected_counts": dict(EXPECTED_COUNTS),
        "complete": counts == dict(EXPECTED_COUNTS),
        "by_emotion": by_emotion,
        "word_count": lengths,
        "pairs": pair_stats,
        "domains": {f"{e}/d{d}": lab for (e, d), lab in domains.items()},
    }


def format_summary(s: dict[str, Any]) -> str:
    lines = [f"affect-battery: {s['n_items']} items "
             f"({'complete' if s['complete'] else 'incomplete: draft'})", ""]
    lines.append(f"{'split':<16}{'items':>7}{'expected':>10}{'words mean':>12}{'min':>6}{'max':>6}")
    for split, n in s["counts"].items():
        wc = s["word_count"][split]
        mean = f"{wc['mean']:.1f}" if wc.get("n") else "-"
        lo = str(wc.get("min", "-"))
        hi = str(wc.get("max", "-"))
        lines.append(f"{split:<16}{n:>7}{s['expected_counts'][split]:>10}{mean:>12}{lo:>6}{hi:>6}")
    lines.append("")
    header = "".join(f"{x:>10}" for x in ("clinical", "neutral", "moderate", "kw_rich"))
    lines.append(f"{'emotion':<14}{header}")
    for emo, c in s["by_emotion"].items():
        row = "".join(f"{c[k]:>10}" for k in ("clinical", "neutral", "moderate", "keyword_rich"))
        lines.append(f"{emo:<14}{row}")
    p = s["pairs"]
    lines.append("")
    if p["n_pairs"]:
        lines.append(
            f"clinical/neutral pairs: {p['n_pairs']}; word-count difference mean "
            f"{p['word_diff_pct_mean']:.1f}% (max {p['word_diff_pct_max']:.1f}%); same sentence "
            f"count {p['same_sentence_count_rate']:.0%}; word-set Jaccard mean "
            f"{p['jaccard_mean']:.2f} (min {p['jaccard_min']:.2f})")
    else:
        lines.append("clinical/neutral pairs: none yet")
    return "\n".join(lines) + "\n"
