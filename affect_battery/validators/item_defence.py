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
from dataclasses import dataclass
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


@dataclass
class _Scores:
    """Classifier and bag-of-words scores of the new items, their clinical partners and the
    shipped neutrals (the references every new neutral is judged against)."""

    classifier: str
    p_emotional: dict[str, float]
    top: dict[str, str]
    bow: dict[str, float]
    ref_p_emotional: np.ndarray
    ref_bow: np.ndarray

    def quantile(self, ref: np.ndarray) -> float:
        return float(np.quantile(ref, REFERENCE_QUANTILE)) if len(ref) else float("nan")


def _score(items: pd.DataFrame, classifier_spec: str, device: str) -> _Scores:
    base, _ = read_battery_with_findings()
    base_text = dict(zip(base["id"], base["text"], strict=True))
    new_ids = items["id"].tolist()
    wanted = {sibling_id(i, "clinical") for i in items.loc[items["split"] == "neutral", "id"]}
    partners = sorted((wanted - set(new_ids)) & set(base_text))
    ids = new_ids + partners
    texts = items["text"].tolist() + [base_text[c] for c in partners]
    ref_neutral = base.loc[base["split"] == "neutral", "text"].tolist()
    clf = build_classifier(classifier_spec, device=device)
    probs = clf.predict_proba(texts + ref_neutral)
    pe = p_emotional(probs)
    return _Scores(
        classifier=clf.name,
        p_emotional=dict(zip(ids, pe[:len(ids)].tolist(), strict=True)),
        top=dict(zip(new_ids, top_emotion(probs[:len(new_ids)]), strict=True)),
        bow=dict(zip(ids, item_scores(base, texts).tolist(), strict=True)),
        ref_p_emotional=pe[len(ids):],
        ref_bow=_reference_bow(base) if ref_neutral else np.array([]))


def _judge(rec: dict, sc: _Scores) -> tuple[dict, list[tuple[str, str]]]:
    """One new item's row for the report and its warnings (code, message)."""
    item_id, split = rec["id"], rec["split"]
    pe, bow = sc.p_emotional[item_id], sc.bow[item_id]
    row = {"id": item_id, "split": split, "p_emotional": round(pe, 4),
           "predicted_emotion": sc.top[item_id], "bow_p_clinical": round(bow, 4)}
    warnings: list[tuple[str, str]] = []
    q_pe, q_bow = sc.quantile(sc.ref_p_emotional), sc.quantile(sc.ref_bow)
    if split in ("neutral", "complex_neutral") and len(sc.ref_p_emotional):
        row["p_emotional_percentile_among_neutrals"] = round(
            _percentile(pe, sc.ref_p_emotional), 4)
        if pe > q_pe:
            warnings.append(("defence-emotional-neutral",
                             f"classifier {sc.classifier} gives P(emotional) {pe:.2f} (reads "
                             f"as {sc.top[item_id]}), above {REFERENCE_QUANTILE:.0%} of the "
                             f"shipped neutrals (their {REFERENCE_QUANTILE:.0%} quantile: "
                             f"{q_pe:.2f})"))
    if split != "neutral":
        return row, warnings
    clinical = sibling_id(item_id, "clinical")
    if clinical in sc.p_emotional:
        row["clinical_p_emotional"] = round(sc.p_emotional[clinical], 4)
        if pe >= sc.p_emotional[clinical]:
            warnings.append(("defence-pair-emotional",
                             f"P(emotional) {pe:.2f} is not below its clinical item {clinical} "
                             f"({sc.p_emotional[clinical]:.2f})"))
        if bow >= sc.bow[clinical]:
            warnings.append(("defence-pair-lexical",
                             f"a bag of words scores it as more clinical ({bow:.2f}) than its "
                             f"clinical item {clinical} ({sc.bow[clinical]:.2f})"))
    if len(sc.ref_bow) and bow > q_bow:
        row["bow_percentile_among_neutrals"] = round(_percentile(bow, sc.ref_bow), 4)
        warnings.append(("defence-lexical",
                         f"a bag of words trained on the battery gives P(clinical) {bow:.2f}, "
                         f"above {REFERENCE_QUANTILE:.0%} of the shipped neutrals "
                         f"({q_bow:.2f}): its vocabulary gives it away"))
    return row, warnings


def add_item_defence(report: GateReport, paths: Sequence[str | Path], classifier_spec: str,
                     device: str = "cpu") -> GateReport:
    """Score the new items and add the per-item warnings and table to the gate report."""
    raw = pd.concat([read_items(p) for p in paths], ignore_index=True)
    items, _ = complete_items(raw)
    items = items[items["split"].notna()].reset_index(drop=True)
    scores = _score(items, classifier_spec, device)
    rows = []
    for rec in items.to_dict(orient="records"):
        row, warnings = _judge(rec, scores)
        rows.append(row)
        report.findings += [Finding(code, message, rec["id"], rec["_file"], int(rec["_line"]),
                                    severity="warning") for code, message in warnings]
    report.extra["defence"] = {
        "classifier": scores.classifier, "reference_quantile": REFERENCE_QUANTILE,
        "neutral_p_emotional_reference": round(scores.quantile(scores.ref_p_emotional), 4),
        "neutral_bow_reference": round(scores.quantile(scores.ref_bow), 4), "items": rows}
    return report
