"""Per-item defence checks for ``gate --defence``: what the classifiers make of new items.

These are warnings, not errors: a classifier is evidence, not the arbiter (the lexicon and the
blind read are). They tell an author which new neutral reads as emotional, or which neutral a
bag of words would tell from its clinical item.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..core.battery import read_battery_with_findings
from ..core.findings import Finding
from ..core.items import complete_items, read_items
from .classifier import build_classifier, p_emotional, top_emotion
from .gate import GateReport
from .lexical import item_scores

NEUTRAL_P_EMOTIONAL_WARN = 0.5
NEUTRAL_P_CLINICAL_WARN = 0.8


def add_item_defence(report: GateReport, paths: Sequence[str | Path], classifier_spec: str,
                     device: str = "cpu") -> GateReport:
    raw = pd.concat([read_items(p) for p in paths], ignore_index=True)
    items, _ = complete_items(raw)
    items = items[items["split"].notna()].reset_index(drop=True)
    base, _ = read_battery_with_findings()
    texts = items["text"].tolist()
    clf = build_classifier(classifier_spec, device=device)
    probs = clf.predict_proba(texts)
    pe = p_emotional(probs)
    top = top_emotion(probs)
    p_clin = item_scores(base, texts)
    rows = []
    for i, rec in enumerate(items.to_dict(orient="records")):
        row = {"id": rec["id"], "split": rec["split"], "p_emotional": round(float(pe[i]), 4),
               "predicted_emotion": top[i], "bow_p_clinical": round(float(p_clin[i]), 4)}
        rows.append(row)
        where = (rec["id"], rec["_file"], int(rec["_line"]))
        if rec["split"] in ("neutral", "complex_neutral") and pe[i] >= NEUTRAL_P_EMOTIONAL_WARN:
            report.findings.append(Finding(
                "defence-emotional-neutral", f"classifier {clf.name} gives P(emotional) "
                f"{pe[i]:.2f} (reads as {top[i]})", *where, severity="warning"))
        if rec["split"] == "neutral" and p_clin[i] >= NEUTRAL_P_CLINICAL_WARN:
            report.findings.append(Finding(
                "defence-lexical", f"a bag of words trained on the battery gives P(clinical) "
                f"{p_clin[i]:.2f}: its vocabulary gives it away", *where, severity="warning"))
    report.extra["defence"] = {"classifier": clf.name, "items": rows}
    return report
