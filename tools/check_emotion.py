"""Author's check for one emotion's file while rewriting items: gate findings, pair matching,
lexical separability for that emotion. Usage: python tools/check_emotion.py EMOTION
"""

from __future__ import annotations

import sys

from affect_battery.core.battery import battery_frame, matched_pairs
from affect_battery.validators.gate import check_battery
from affect_battery.validators.lexical import (
    TARGET_TFIDF_AUROC,
    TARGET_TFIDF_AUROC_PER_EMOTION,
    TARGET_WORDCOUNT_AUROC,
    Separability,
    lexical_section,
)


def main() -> None:
    emo = sys.argv[1]
    report = check_battery(strict=True)
    mine = [f for f in report.findings if f.item_id and f"-{emo}-" in f.item_id]
    print(f"gate findings for {emo}: {len(mine)}")
    for f in mine:
        print(f"  {f.item_id} [{f.code}] {f.message}")
    frame = battery_frame()
    pairs = matched_pairs(frame)
    pairs = pairs[pairs["emotion"] == emo]
    print("pair | clinical words | neutral words | diff% (neutral-clinical) | jaccard")
    for _, p in pairs.iterrows():
        signed = 100 * (p["neutral_words"] - p["clinical_words"]) / p["clinical_words"]
        print(f"  {p['scenario']}: {p['clinical_words']} {p['neutral_words']} {signed:+.1f}% "
              f"{p['jaccard']:.2f}")
    section = lexical_section(frame)
    assert isinstance(section, Separability), "needs clinical and neutral items"
    lex = section.clinical_vs_neutral
    row = lex.by_emotion[emo]
    print(f"TF-IDF AUROC {emo}: {row.tfidf_auroc:.3f} (target <= "
          f"{TARGET_TFIDF_AUROC_PER_EMOTION:.2f}; overall {lex.tfidf_auroc:.3f}, target <= "
          f"{TARGET_TFIDF_AUROC:.2f})")
    print(f"word-count AUROC {emo}: {row.wordcount_auroc:.3f} (target <= "
          f"{TARGET_WORDCOUNT_AUROC:.2f})")


if __name__ == "__main__":
    main()
