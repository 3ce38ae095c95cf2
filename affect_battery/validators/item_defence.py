"""Per-item defence checks for ``gate --defence``: what the classifiers make of new items.

These are warnings, not errors: a classifier is evidence, not the arbiter (the lexicon and the
reading norms are). A new neutral is judged *relative* to two references rather than by a fixed
threshold (0.5 P(emotional) fired on 176 of the 192 shipped neutrals, because the classifier
finds any narrative somewhat emotional):

- its own clinical item (from the new files or the battery): a control should score below the
  item it controls for;
- the shipped neutrals: a new neutral above their 95th percentile reads as more emotional (or,
  for the bag of words, more clinical) than nearly every control already accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._util.cv import grouped_folds, out_of_fold_proba, tfidf_pipeline
from ..core.battery import read_battery_with_findings
from ..core.findings import Finding
from ..core.ids import scenario_of, sibling_id
from ..core.items import complete_items, read_items
from .classifier import build_classifier, p_emotional, top_emotion
from .gate import GateReport
from .lexical import item_scores

REFERENCE_QUANTILE = 0.95
"""A new neutral above this quantile of the shipped neutrals' scores gets a warning."""


def _reference_bow(base: pd.DataFrame) -> np.ndarray:
    """Out-of-fold TF-IDF P(clinical) of the shipped neutrals (in-sample scores are too low)."""
    cn = base[base["split"].isin(["clinical", "neutral"])].reset_index(drop=True)
    y = (cn["split"] == "clinical").to_numpy(int)
    p = out_of_fold_proba(tfidf_pipeline, cn["text"].tolist(), y,
                          grouped_folds(cn["id"].map(scenario_of).to_numpy()))
    return p[(cn["split"] == "neutral").to_numpy()]


def _percentile(value: float, reference: np.ndarray) -> float:
    return float((reference < value).mean() + 0.5 * (reference == value).mean())


def add_item_defence(report: GateReport, paths: Sequence[str | Path], classifier_spec: str,
                     device: str = "cpu") -> GateReport:
    raw = pd.concat([read_items(p) for p in paths], ignore_index=True)
    items, _ = complete_items(raw)
    items = items[items["split"].notna()].reset_index(drop=True)
    base, _ = read_battery_with_findings()
    texts = items["text"].tolist()
    new_text = dict(zip(items["id"], texts, strict=True))
    base_text = dict(zip(base["id"], base["text"], strict=True))
    neutral_ids = items.loc[items["split"] == "neutral", "id"]
    partner_of = {i: sibling_id(i, "clinical") for i in neutral_ids}
    partners = sorted({c for c in partner_of.values() if c not in new_text and c in base_text})
    ref_neutral = base.loc[base["split"] == "neutral", "text"].tolist()
    clf = build_classifier(classifier_spec, device=device)
    probs = clf.predict_proba(texts + [base_text[c] for c in partners] + ref_neutral)
    pe_all = p_emotional(probs)
    pe = pe_all[:len(texts)]
    pe_of = {**dict(zip(items["id"], pe, strict=True)),
             **dict(zip(partners, pe_all[len(texts):len(texts) + len(partners)], strict=True))}
    ref_pe = pe_all[len(texts) + len(partners):]
    top = top_emotion(probs[:len(texts)])
    p_clin = item_scores(base, texts + [base_text[c] for c in partners])
    bow_of = dict(zip([*items["id"], *partners], p_clin, strict=True))
    ref_bow = _reference_bow(base) if ref_neutral else np.array([])
    q_pe = float(np.quantile(ref_pe, REFERENCE_QUANTILE)) if len(ref_pe) else float("nan")
    q_bow = float(np.quantile(ref_bow, REFERENCE_QUANTILE)) if len(ref_bow) else float("nan")
    rows = []
    for i, rec in enumerate(items.to_dict(orient="records")):
        row = {"id": rec["id"], "split": rec["split"], "p_emotional": round(float(pe[i]), 4),
               "predicted_emotion": top[i], "bow_p_clinical": round(float(p_clin[i]), 4)}
        where = (rec["id"], rec["_file"], int(rec["_line"]))
        if rec["split"] in ("neutral", "complex_neutral") and len(ref_pe):
            row["p_emotional_percentile_among_neutrals"] = round(_percentile(pe[i], ref_pe), 4)
            if pe[i] > q_pe:
                report.findings.append(Finding(
                    "defence-emotional-neutral", f"classifier {clf.name} gives P(emotional) "
                    f"{pe[i]:.2f} (reads as {top[i]}), above {REFERENCE_QUANTILE:.0%} of the "
                    f"shipped neutrals (their {REFERENCE_QUANTILE:.0%} quantile: {q_pe:.2f})",
                    *where, severity="warning"))
        if rec["split"] == "neutral":
            clinical = partner_of[rec["id"]]
            if clinical in pe_of:
                row["clinical_p_emotional"] = round(float(pe_of[clinical]), 4)
                if pe[i] >= pe_of[clinical]:
                    report.findings.append(Finding(
                        "defence-pair-emotional", f"P(emotional) {pe[i]:.2f} is not below its "
                        f"clinical item {clinical} ({pe_of[clinical]:.2f})", *where,
                        severity="warning"))
                if bow_of[rec["id"]] >= bow_of[clinical]:
                    report.findings.append(Finding(
                        "defence-pair-lexical", f"a bag of words scores it as more clinical "
                        f"({bow_of[rec['id']]:.2f}) than its clinical item {clinical} "
                        f"({bow_of[clinical]:.2f})", *where, severity="warning"))
            if len(ref_bow) and p_clin[i] > q_bow:
                row["bow_percentile_among_neutrals"] = round(_percentile(p_clin[i], ref_bow), 4)
                report.findings.append(Finding(
                    "defence-lexical", f"a bag of words trained on the battery gives P(clinical) "
                    f"{p_clin[i]:.2f}, above {REFERENCE_QUANTILE:.0%} of the shipped neutrals "
                    f"({q_bow:.2f}): its vocabulary gives it away", *where, severity="warning"))
        rows.append(row)
    report.extra["defence"] = {"classifier": clf.name, "reference_quantile": REFERENCE_QUANTILE,
                               "neutral_p_emotional_reference": round(q_pe, 4),
                               "neutral_bow_reference": round(q_bow, 4), "items": rows}
    return report
