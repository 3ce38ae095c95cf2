"""Render the dataset card and datasheet from the data and the defence report.

The templates in ``cards/`` hold prose and ``{placeholders}``; every number is produced here
from the battery frame, the defence ``report.json`` and (optionally) an analyses
``results.json``. Rendering is deterministic, so a card can be verified by rendering it again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..core.constants import DOMAIN_LABELS, EMOTIONS, LABELS, SPLITS
from ..core.paths import package_data_dir
from ..validators.norms import render_markdown as render_norms

DEFAULT_REPO_ID = "affect-battery/affect-battery"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def cards_dir() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "_cards"
    if packaged.is_dir():
        return packaged
    return package_data_dir().parent / "cards"


def fill(template: str, values: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise KeyError(f"card template placeholder {{{key}}} has no value")
        return values[key]
    return _PLACEHOLDER.sub(sub, template)


def ordered(d: dict[str, Any], order: tuple[str, ...] = (*SPLITS, *EMOTIONS)) -> list[tuple]:
    """Items of a split- or emotion-keyed dict in canonical order, whatever the JSON order."""
    rank = {k: i for i, k in enumerate(order)}
    return sorted(d.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def counts_table(frame: pd.DataFrame) -> str:
    header = "| emotion | " + " | ".join(SPLITS) + " |"
    lines = [header, "|---|" + "---:|" * len(SPLITS)]
    for emo in EMOTIONS:
        sub = frame[frame["source_emotion"] == emo]
        lines.append(f"| {emo} | " + " | ".join(str(int((sub["split"] == s).sum()))
                                              for s in SPLITS) + " |")
    lines.append("| total | " + " | ".join(str(int((frame["split"] == s).sum()))
                                          for s in SPLITS) + " |")
    return "\n".join(lines)


def length_table(frame: pd.DataFrame) -> str:
    lines = ["| split | items | words mean | sd | min | max | sentences mean |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for s in SPLITS:
        part = frame[frame["split"] == s]
        if part.empty:
            continue
        wc = part["word_count"].astype(float)
        lines.append(f"| {s} | {len(part)} | {wc.mean():.1f} | {wc.std(ddof=1):.1f} | "
                     f"{int(wc.min())} | {int(wc.max())} | "
                     f"{part['sentence_count'].astype(float).mean():.2f} |")
    return "\n".join(lines)


def _defence_section(report: dict[str, Any]) -> str:
    out = []
    ks = report["keyword_screen"]
    hits = ks["items_with_hits_by_split"]
    out.append(f"**Keyword screen.** Emotion-term lexicon of {ks['lexicon_surface_forms']} "
               "surface forms (inflections, hyphenated and open compounds, idioms). Items with any "
               "hit: " + ", ".join(f"{k} {v}" for k, v in ordered(hits)) + ".")
    lx = report.get("lexical") or {}
    if lx.get("computed"):
        c = lx["clinical_vs_neutral"]
        pairs = lx["pairs"]
        line = (f"**Lexical separability.** A TF-IDF logistic regression (word uni- and bigrams, "
                f"{lx['n_folds']} folds grouped by scenario) separates clinical items from their "
                f"neutral controls with AUROC {c['tfidf_auroc']:.3f} (target <= 0.80). Word count "
                f"alone gives AUROC {c['wordcount_auroc']:.3f} (target <= 0.60). Mean word-set "
                f"Jaccard of a pair: {pairs['jaccard_mean']:.3f}.")
        if "eight_class_clinical" in lx:
            e = lx["eight_class_clinical"]
            line += (f" Across the eight emotions on clinical items, the same model reaches macro "
                     f"AUROC {e['macro_auroc']:.3f} and accuracy {e['accuracy']:.3f} (chance "
                     f"{e['chance']:.3f}). Situations have their own vocabulary (a loss story "
                     "mentions a funeral); names of feelings are absent.")
        out.append(line)
        out.append("| emotion | TF-IDF AUROC | word-count AUROC |\n|---|---:|---:|\n" + "\n".join(
            f"| {k} | {v['tfidf_auroc']:.3f} | {v['wordcount_auroc']:.3f} |"
            for k, v in ordered(c["by_emotion"])))
    v = report["vader"]
    vp = v["clinical_vs_neutral_pairs"]
    means = ", ".join(f"{k} {d['mean']:+.3f}" for k, d in ordered(v["by_split"]))
    out.append(f"**VADER.** Mean compound by split: {means}. Clinical vs neutral over pairs: "
               f"Wilcoxon p = {_p(vp['p_value'])}, rank-biserial {vp['effect_size']:+.3f}. The "
               "words driving the difference are situational ("
               + ", ".join(d["word"] for d in v["drivers"][:8]) + "); emotion terms among them: "
               + (", ".join(v["drivers_that_are_emotion_terms"]) or "none") + ".")
    n = report["nrc"]
    hr = ", ".join(f"{k} {d['mean']:.3f}" for k, d in ordered(n["hit_rate_by_split"]))
    t1 = n["top1"]
    nrc_line = f"**NRC emotion lexicon.** Mean hit rate by split: {hr}."
    if "clinical" in t1 and "keyword_rich" in t1:
        nrc_line += (f" Top-1 NRC category matches the intended emotion for "
                     f"{t1['clinical']['accuracy']:.3f} of clinical items (chance 0.125, binomial "
                     f"p = {_p(t1['clinical']['binomial']['p_value'])}) and "
                     f"{t1['keyword_rich']['accuracy']:.3f} of keyword-rich twins.")
    out.append(nrc_line)
    c = report.get("classifier")
    if c:
        pe = ", ".join(f"{k} {d['mean']:.3f}" for k, d in ordered(c["p_emotional_by_split"]))
        t = c["clinical_gt_neutral_pairs"]
        trend = c["trend_neutral_moderate_clinical"]
        line = (f"**Contextual classifier ({c['name']}).** Mean P(emotional) = 1 - P(neutral) by "
                f"split: {pe}. Clinical > neutral over matched pairs: one-sided Wilcoxon p = "
                f"{_p(t['p_value'])}, rank-biserial {t['effect_size']:.3f}.")
        if trend["test"]:
            line += (f" Neutral < moderate < clinical over {trend['test']['n']} triplets: means "
                     + ", ".join(f"{x:.3f}" for x in trend["means"])
                     + f", Page's trend test p = {_p(trend['test']['p_value'])}.")
        cx = c.get("complex_neutral_vs_neutral")
        if cx:
            line += (f" complex_neutral vs neutral: Mann-Whitney p = {_p(cx['p_value'])}, "
                     f"rank-biserial {cx['effect_size']:+.3f}.")
        top = c["top1"]
        if "clinical" in top and "keyword_rich" in top:
            line += (f" Top-1 category accuracy: clinical {top['clinical']['accuracy']:.3f}, "
                     f"keyword-rich {top['keyword_rich']['accuracy']:.3f} (chance 0.125)")
            if "mcnemar_twins" in top:
                line += f"; McNemar across twins p = {_p(top['mcnemar_twins']['p_value'])}"
            line += "."
        out.append(line)
    return "\n\n".join(out)


def _norms_section(report: dict[str, Any]) -> str:
    return "\n".join(render_norms(report.get("norms") or {})[2:])


def _analyses_section(results: dict[str, Any] | None) -> str:
    if not results:
        return ""
    from .analyses_summary import card_section

    return card_section(results) + "\n\n"


def render_card(frame: pd.DataFrame, report: dict[str, Any], results: dict[str, Any] | None = None,
                repo_id: str = DEFAULT_REPO_ID, ratings: pd.DataFrame | None = None) -> str:
    """README.md of the Hub folder: YAML front matter plus the rendered template."""
    from .hub_yaml import front_matter

    themes = sorted(frame.loc[frame["split"] == "complex_neutral", "domain_label"].unique())
    pairs = (report.get("lexical") or {}).get("pairs", {})
    cxm = report.get("complex_neutral_matching") or {}
    values = {
        "version": __version__,
        "repo_id": repo_id,
        "counts_table": counts_table(frame),
        "labels": ", ".join(LABELS),
        "domains": "; ".join(f"{d} {lab}" for d, lab in DOMAIN_LABELS.items()),
        "themes": ", ".join(themes) or "none",
        "length_table": length_table(frame),
        "pair_summary": (f"{pairs['n_pairs']} pairs; word-count difference mean "
                         f"{pairs['word_diff_pct_mean']:.1f}% (max "
                         f"{pairs['word_diff_pct_max']:.1f}%); same sentence count in "
                         f"{pairs['same_sentence_count_rate']:.0%}; word-set Jaccard mean "
                         f"{pairs['jaccard_mean']:.3f} (min {pairs['jaccard_min']:.3f}).")
        if pairs.get("n_pairs") else "none.",
        "complex_summary": (f"mean {cxm['word_count']['complex_neutral_mean']:.1f} vs "
                            f"{cxm['word_count']['clinical_mean']:.1f} words (Mann-Whitney p = "
                            f"{cxm['word_count']['mann_whitney']['p_value']:.3f}); content words "
                            "per sentence "
                            f"{cxm['content_words_per_sentence']['complex_neutral_mean']:.2f} vs "
                            f"{cxm['content_words_per_sentence']['clinical_mean']:.2f}; numerals "
                            "per sentence "
                            f"{cxm['numerals_per_sentence']['complex_neutral_mean']:.2f} vs "
                            f"{cxm['numerals_per_sentence']['clinical_mean']:.2f}.")
        if cxm.get("computed") else "not computed.",
        "defence_section": _defence_section(report),
        "norms_section": _norms_section(report),
        "analyses_section": _analyses_section(results),
    }
    body = fill((cards_dir() / "dataset_card.md").read_text(encoding="utf-8"), values)
    return front_matter(frame, ratings) + "\n" + body


def render_datasheet(frame: pd.DataFrame, report: dict[str, Any],
                     repo_id: str = DEFAULT_REPO_ID) -> str:
    norms = report.get("norms") or {}
    if norms.get("computed"):
        cur = norms["current"]
        summary = (f"{cur['n_ratings']} current ratings by {cur['n_readers']} AI language-model "
                   "readers (not human raters), at least three per text; read as intended: "
                   + "; ".join(f"{k} {d['agreement']:.1%}" for k, d in
                               ordered(cur["by_split"]) if d["agreement"] is not None)
                   + f"; Fleiss' kappa {cur['fleiss_kappa']}")
    else:
        summary = "no reading norms recorded"
    values = {
        "version": __version__,
        "repo_id": repo_id,
        "n_items": str(len(frame)),
        "split_counts": ", ".join(f"{s} {int((frame['split'] == s).sum())}" for s in SPLITS),
        "norms_summary": summary,
        "lexicon_forms": str(report["keyword_screen"]["lexicon_surface_forms"]),
    }
    return fill((cards_dir() / "datasheet.md").read_text(encoding="utf-8"), values)
