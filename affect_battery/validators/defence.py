"""The defence battery: three independent methods, one reproducible report.

1. VADER (bag-of-words valence) with the words that drive any clinical/neutral difference;
2. the NRC emotion lexicon: hit rates and top-1 category vs target;
3. a contextual classifier (embedded MiniLM head, or any Hugging Face model):
   P(emotional) = 1 - P(neutral) by split, paired tests, the intensity trend and categorisation;
plus the keyword screen summary. ``run_defence`` returns a JSON-ready dict; ``write_report``
writes report.json, report.md, items.csv and PNG figures atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._util.atomic import atomic_dir
from .._version import __version__
from ..core.constants import EMOTIONS, LABELS, SPLITS
from ..core.digest import battery_digest
from ..core.findings import InputError
from ..core.ids import sibling_id
from . import nrc, vader
from .complexity import complex_neutral_matching
from .lexical import separability
from .lexicon import load_lexicon
from .norms import norms_section
from .stats import binomial_vs_chance, mann_whitney, mcnemar_exact, page_trend, wilcoxon_paired

REPORT_SCHEMA_VERSION = 2
"""2: the ``blind_read`` section became ``norms`` (three readers per text, first read and
current figures, reliability)."""
CHANCE = 1 / len(EMOTIONS)


def _describe(values: np.ndarray) -> dict[str, float | int | None]:
    values = np.asarray(values, float)
    if values.size == 0:
        return {"n": 0, "mean": None, "sd": None, "median": None}
    return {"n": int(values.size), "mean": round(float(values.mean()), 4),
            "sd": round(float(values.std(ddof=1)), 4) if values.size > 1 else 0.0,
            "median": round(float(np.median(values)), 4)}


def _pairs(frame: pd.DataFrame, col: str, a: str, b: str, link: str) -> tuple[np.ndarray, ...]:
    """Values of ``col`` for items of split ``a`` and their partner in split ``b``."""
    by_id = frame.set_index("id")[col]
    left = frame[frame["split"] == a]
    partners = left[link].map(lambda i: i if i in by_id.index else None)
    ok = partners.notna()
    return left.loc[ok, col].to_numpy(float), by_id.loc[partners[ok]].to_numpy(float)


def _triplets(frame: pd.DataFrame, col: str) -> np.ndarray:
    """[neutral, moderate, clinical] values for scenarios that have all three."""
    by_id = frame.set_index("id")[col]
    rows = []
    for mid in frame.loc[frame["split"] == "moderate", "id"]:
        ids = (sibling_id(mid, "neutral"), mid, sibling_id(mid, "clinical"))
        if all(i in by_id.index for i in ids):
            rows.append([float(by_id[i]) for i in ids])
    return np.asarray(rows, float).reshape(-1, 3)


def _split_stats(frame: pd.DataFrame, col: str) -> dict[str, Any]:
    return {s: _describe(frame.loc[frame["split"] == s, col].to_numpy(float)) for s in SPLITS
            if (frame["split"] == s).any()}


def _accuracy_block(frame: pd.DataFrame, pred_col: str, credit_col: str | None = None,
                    covered: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in ("clinical", "keyword_rich"):
        part = frame[frame["split"] == split]
        if part.empty:
            continue
        target = part["source_emotion"].to_numpy()
        credit = (part[credit_col].to_numpy(float) if credit_col
                  else (part[pred_col].to_numpy() == target).astype(float))
        block = {"n": len(part), "accuracy": round(float(credit.mean()), 4),
                 "chance": CHANCE,
                 "binomial": binomial_vs_chance(float(credit.sum()), len(part), CHANCE).to_dict()}
        if covered is not None and len(covered) < len(EMOTIONS):
            mask = np.isin(target, covered)
            if mask.any():
                c = 1 / len(covered)
                block["covered_emotions"] = covered
                block["accuracy_covered"] = round(float(credit[mask].mean()), 4)
                block["binomial_covered"] = binomial_vs_chance(
                    float(credit[mask].sum()), int(mask.sum()), c).to_dict()
        labels = list(EMOTIONS)
        preds = part[pred_col].tolist()
        cm = [[int(sum(1 for t, p in zip(target, preds, strict=True) if t == a and p == b))
               for b in [*labels, "none"]] for a in labels]
        block["confusion"] = {"rows": labels, "cols": [*labels, "none"], "matrix": cm}
        out[split] = block
    # McNemar over twins: clinical item vs its keyword-rich twin, both judged correct or not
    k = frame[frame["split"] == "keyword_rich"]
    if not k.empty:
        by_id = frame.set_index("id")
        src = k["source_id"].map(lambda i: i in by_id.index)
        k = k[src]
        if not k.empty:
            def correct(ids: pd.Series) -> np.ndarray:
                rows = by_id.loc[ids]
                if credit_col:
                    return rows[credit_col].to_numpy(float) >= 1.0
                return (rows[pred_col] == rows["source_emotion"]).to_numpy()
            out["mcnemar_twins"] = mcnemar_exact(correct(k["source_id"]),
                                                 correct(k["id"])).to_dict()
    return out


def vader_section(frame: pd.DataFrame) -> dict[str, Any]:
    frame["vader_compound"] = vader.compound_scores(frame["text"])
    c, n = _pairs(frame, "vader_compound", "clinical", "neutral", "matched_control_id")
    cl = frame.loc[frame["split"] == "clinical", "text"].tolist()
    ne = frame.loc[frame["split"] == "neutral", "text"].tolist()
    drivers = vader.drivers(cl, ne, top=25)
    counts = {}
    for split in SPLITS:
        texts = frame.loc[frame["split"] == split, "text"]
        bag = [w for t in texts for w, _ in vader.lexicon_words(t)]
        counts[split] = pd.Series(bag, dtype=object).value_counts()
    rows = []
    for rec in drivers.to_dict(orient="records"):
        rows.append({"word": rec["word"], "valence": rec["valence"],
                     "contribution": round(float(rec["contribution"]), 3),
                     "counts": {s: int(counts[s].get(rec["word"], 0)) for s in SPLITS}})
    emotion_terms = [r["word"] for r in rows if load_lexicon().screen(r["word"])]
    return {
        "by_split": _split_stats(frame, "vader_compound"),
        "clinical_vs_neutral_pairs": wilcoxon_paired(c, n, "two-sided").to_dict() if len(c)
        else None,
        "clinical_vs_neutral_groups": mann_whitney(c, n).to_dict() if len(c) else None,
        "drivers": rows,
        "drivers_that_are_emotion_terms": emotion_terms,
    }


def nrc_section(frame: pd.DataFrame) -> dict[str, Any]:
    results = [nrc.analyse(t) for t in frame["text"]]
    frame["nrc_hit_rate"] = [r.hit_rate for r in results]
    frame["nrc_top"] = [("|".join(r.top_emotions()) or "none") for r in results]
    frame["nrc_credit"] = [nrc.top1_credit(r, e) if isinstance(e, str) else 0.0
                           for r, e in zip(results, frame["source_emotion"], strict=True)]
    frame["nrc_pred"] = [r.top_emotions()[0] if len(r.top_emotions()) == 1 else
                         ("tie" if r.top_emotions() else "none") for r in results]
    c, n = _pairs(frame, "nrc_hit_rate", "clinical", "neutral", "matched_control_id")
    return {
        "licence": nrc.NRC_LICENCE,
        "hit_rate_by_split": _split_stats(frame, "nrc_hit_rate"),
        "hit_rate_clinical_vs_neutral_pairs": wilcoxon_paired(c, n, "two-sided").to_dict()
        if len(c) else None,
        "top1": _accuracy_block(frame, "nrc_pred", credit_col="nrc_credit"),
        "top1_note": "ties among the top categories earn 1/k credit; 'tie' and 'none' count "
                     "as wrong in the confusion matrix and McNemar",
    }


def classifier_section(frame: pd.DataFrame, classifier: Any, progress: bool = False
                       ) -> dict[str, Any]:
    from .classifier import p_emotional, top_emotion

    probs = classifier.predict_proba(frame["text"].tolist(), progress=progress)
    frame["p_emotional"] = p_emotional(probs)
    frame["clf_top"] = top_emotion(probs)
    for j, lab in enumerate(LABELS):
        frame[f"p_{lab}"] = probs[:, j]
    covered = [e for e in EMOTIONS if e in getattr(classifier, "labels", EMOTIONS)]
    c, n = _pairs(frame, "p_emotional", "clinical", "neutral", "matched_control_id")
    trip = _triplets(frame, "p_emotional")
    cx = frame.loc[frame["split"] == "complex_neutral", "p_emotional"].to_numpy(float)
    ne = frame.loc[frame["split"] == "neutral", "p_emotional"].to_numpy(float)
    return {
        "name": classifier.name,
        "p_emotional_by_split": _split_stats(frame, "p_emotional"),
        "clinical_gt_neutral_pairs": wilcoxon_paired(c, n, "greater").to_dict() if len(c)
        else None,
        "trend_neutral_moderate_clinical": {
            "means": [round(float(x), 4) for x in trip.mean(axis=0)] if len(trip) else None,
            "test": page_trend(trip.T).to_dict() if len(trip) > 1 else None},
        "complex_neutral_vs_neutral": mann_whitney(cx, ne).to_dict() if len(cx) and len(ne)
        else None,
        "top1": _accuracy_block(frame, "clf_top", covered=covered),
        "neutral_own_emotion": neutral_own_emotion(frame, "clf_top", covered),
    }


def neutral_own_emotion(frame: pd.DataFrame, pred_col: str, covered: list[str] | None = None
                        ) -> dict[str, Any] | None:
    """How often a neutral control is categorised as its own scenario's emotion.

    A control with the affect removed should land on its scenario's emotion no more often than
    chance (1/8, or 1/k over the k emotions a backend covers); a higher rate means the neutrals
    keep a trace of their clinical story. One-sided binomial test against chance.
    """
    part = frame[frame["split"] == "neutral"]
    if part.empty:
        return None
    emotions = covered or list(EMOTIONS)
    part = part[part["source_emotion"].isin(emotions)]
    hits = int((part[pred_col] == part["source_emotion"]).sum())
    chance = 1 / len(emotions)
    return {"n": len(part), "hits": hits, "rate": round(hits / len(part), 4) if len(part) else None,
            "chance": round(chance, 4),
            "binomial": binomial_vs_chance(float(hits), len(part), chance).to_dict()}


def keyword_section(frame: pd.DataFrame) -> dict[str, Any]:
    lex = load_lexicon()
    hits = [len(lex.screen(t)) for t in frame["text"]]
    frame["lexicon_hits"] = hits
    return {"lexicon_surface_forms": lex.surface_forms(),
            "items_with_hits_by_split": {s: int(((frame["split"] == s) & (frame["lexicon_hits"]
                                                                         > 0)).sum())
                                         for s in SPLITS if (frame["split"] == s).any()}}


def run_defence(frame: pd.DataFrame, classifier: Any | None = None, progress: bool = False,
                strict: bool = False) -> tuple[dict[str, Any], pd.DataFrame]:
    """All sections over a battery frame; returns (report, per-item table)."""
    if frame.empty:
        raise InputError("the battery is empty: nothing to validate")
    for split in ("clinical", "neutral"):
        if not (frame["split"] == split).any():
            raise InputError(f"split {split!r} has no items; the defence battery compares "
                             "clinical items with their neutral controls")
    frame = frame.copy().reset_index(drop=True)
    counts = {s: int((frame["split"] == s).sum()) for s in SPLITS}
    lexical = separability(frame)
    frame["bow_p_clinical_oof"] = frame["id"].map(lexical.pop("item_p_clinical_oof", {}))
    report: dict[str, Any] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "affect_battery_version": __version__,
        "mode": "strict" if strict else "draft",
        "battery_sha256": battery_digest(frame),
        "counts": counts,
        "missing_splits": [s for s, n in counts.items() if n == 0],
        "keyword_screen": keyword_section(frame),
        "lexical": lexical,
        "complex_neutral_matching": complex_neutral_matching(frame),
        "norms": norms_section(frame).to_dict(),
        "vader": vader_section(frame),
        "nrc": nrc_section(frame),
        "classifier": classifier_section(frame, classifier, progress) if classifier else None,
    }
    item_cols = [c for c in frame.columns if c in ("id", "split", "source_emotion") or c in (
        "vader_compound", "nrc_hit_rate", "nrc_top", "p_emotional", "clf_top", "lexicon_hits",
        "bow_p_clinical_oof")
        or c.startswith("p_")]
    return report, frame[item_cols]


# ---- output ----------------------------------------------------------------------------------

def render_markdown(report: dict[str, Any]) -> str:
    from .report_md import render

    return render(report)


def write_report(report: dict[str, Any], items: pd.DataFrame, out_dir: str | Path,
                 figures: bool = True, extra_files: dict[str, str] | None = None) -> Path:
    """Write the report folder atomically: build it beside the target, then swap it in."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        (tmp / "report.json").write_text(json.dumps(report, indent=2, sort_keys=False) + "\n",
                                         encoding="utf-8")
        (tmp / "report.md").write_text(render_markdown(report), encoding="utf-8")
        items.to_csv(tmp / "items.csv", index=False, float_format="%.6f")
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        if figures:
            from .figures import write_figures

            write_figures(report, items, tmp)
    return out_dir
