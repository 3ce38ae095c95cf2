"""The dataset card's and datasheet's figures from the defence report.

The card template (``cards/dataset_card.md``) holds the prose; these functions fill its
placeholders that quote the defence report, from the typed report, so the card, report.md and
the headline cannot disagree. The card may render a report read back from a sorted-key
report.json, so split- and emotion-keyed figures are put in canonical order.
"""

from __future__ import annotations

from ..contextual import ClassifierSection
from ..defence import DefenceReport
from ..lexical import PAIR_WIN_CHANCE, Separability
from ..records import NotComputed
from .fmt import fmt_counts, fmt_num, fmt_p, fmt_share, fmt_signed, ordered
from .markdown import emotion_table, norms_markdown

CARD_DRIVERS = 8
"""VADER drivers named on the card."""


def _card_lexical(lx: Separability) -> list[str]:
    c, pairs, t = lx.clinical_vs_neutral, lx.pairs, lx.targets
    line = (f"**Lexical separability.** A TF-IDF logistic regression (word uni- and bigrams, "
            f"{lx.n_folds} folds grouped by scenario) separates clinical items from their "
            f"neutral controls with AUROC {c.tfidf_auroc:.3f} (target <= "
            f"{t.tfidf_auroc_max:.2f}). Word count alone gives AUROC {c.wordcount_auroc:.3f} "
            f"(target <= {t.wordcount_auroc_max:.2f}). Within matched pairs the clinical item "
            f"scores above its own neutral in {fmt_num(c.tfidf_pair_win_rate)} of pairs "
            f"(word count: {fmt_num(c.wordcount_pair_win_rate)}; chance {PAIR_WIN_CHANCE}). "
            f"Mean word-set Jaccard of a pair: {fmt_num(pairs.jaccard_mean)}.")
    if lx.eight_class_clinical is not None:
        e = lx.eight_class_clinical
        line += (f" Across the eight emotions on clinical items, the same model reaches macro "
                 f"AUROC {e.macro_auroc:.3f} and accuracy {e.accuracy:.3f} (chance "
                 f"{e.chance:.3f}). Situations have their own vocabulary (a loss story "
                 "mentions a funeral); names of feelings are absent.")
    return [line, "\n".join(emotion_table(lx))]


def _card_classifier(c: ClassifierSection) -> str:
    pe = ", ".join(f"{k} {fmt_num(d.mean)}" for k, d in ordered(c.p_emotional_by_split))
    t = c.clinical_gt_neutral_pairs
    trend = c.trend_neutral_moderate_clinical
    line = (f"**Contextual classifier ({c.name}).** Mean P(emotional) = 1 - P(neutral) by "
            f"split: {pe}. Clinical > neutral over matched pairs: one-sided Wilcoxon p = "
            f"{fmt_p(t.p_value if t else None)}, rank-biserial "
            f"{fmt_num(t.effect_size if t else None)}.")
    if trend.test is not None and trend.means:
        line += (f" Neutral < moderate < clinical over {trend.test.n} triplets: means "
                 + ", ".join(f"{x:.3f}" for x in trend.means)
                 + f", Page's trend test p = {fmt_p(trend.test.p_value)}.")
    cx = c.complex_neutral_vs_neutral
    if cx is not None:
        line += (f" complex_neutral vs neutral: Mann-Whitney p = {fmt_p(cx.p_value)}, "
                 f"rank-biserial {fmt_signed(cx.effect_size)}.")
    top = c.top1
    if top.clinical is not None and top.keyword_rich is not None:
        line += (f" Top-1 category accuracy: clinical {top.clinical.accuracy:.3f}, "
                 f"keyword-rich {top.keyword_rich.accuracy:.3f} (chance "
                 f"{top.clinical.chance:.3f})")
        if top.mcnemar_twins is not None:
            line += f"; McNemar across twins p = {fmt_p(top.mcnemar_twins.p_value)}"
        line += "."
    own = c.neutral_own_emotion
    if own is not None:
        line += (f" Neutral controls categorised as their own scenario's emotion: "
                 f"{own.hits} of {own.n} ({fmt_num(own.rate)}; chance {own.chance:.3f}, "
                 f"binomial p = {fmt_p(own.binomial.p_value)}).")
    return line


def card_defence_section(report: DefenceReport) -> str:
    """The card's "Defence battery" section: one paragraph per method."""
    ks = report.keyword_screen
    out = [f"**Keyword screen.** Emotion-term lexicon of {ks.lexicon_surface_forms} surface "
           "forms (inflections, hyphenated and open compounds, idioms). Items with any hit: "
           f"{fmt_counts(ks.items_with_hits_by_split)}."
           + (f" A review tier of {ks.lexicon_review_forms} forms with a common literal sense "
              "(warnings, read in context) hits: "
              f"{fmt_counts(ks.items_with_review_hits_by_split)}."
              if ks.items_with_review_hits_by_split else "")]
    if isinstance(report.lexical, Separability):
        out += _card_lexical(report.lexical)
    v = report.vader
    vp = v.clinical_vs_neutral_pairs
    means = ", ".join(f"{k} {fmt_signed(d.mean)}" for k, d in ordered(v.by_split))
    out.append(f"**VADER.** Mean compound by split: {means}. Clinical vs neutral over pairs: "
               f"Wilcoxon p = {fmt_p(vp.p_value if vp else None)}, rank-biserial "
               f"{fmt_signed(vp.effect_size if vp else None)}. The words driving the difference "
               "are situational (" + ", ".join(d.word for d in v.drivers[:CARD_DRIVERS])
               + "); emotion terms among them: "
               + (", ".join(v.drivers_that_are_emotion_terms) or "none") + ".")
    n = report.nrc
    hr = ", ".join(f"{k} {fmt_num(d.mean)}" for k, d in ordered(n.hit_rate_by_split))
    nrc_line = f"**NRC emotion lexicon.** Mean hit rate by split: {hr}."
    cl, kw = n.top1.clinical, n.top1.keyword_rich
    if cl is not None and kw is not None:
        nrc_line += (f" Top-1 NRC category matches the intended emotion for "
                     f"{cl.accuracy:.3f} of clinical items (chance {cl.chance:.3f}, binomial "
                     f"p = {fmt_p(cl.binomial.p_value)}) and {kw.accuracy:.3f} of keyword-rich "
                     "twins.")
    out.append(nrc_line)
    if report.classifier is not None:
        out.append(_card_classifier(report.classifier))
    return "\n\n".join(out)


def card_norms_section(report: DefenceReport) -> str:
    """The card's norms tables: report.md's norms section without its heading."""
    return "\n".join(norms_markdown(report.norms)[2:])


def card_pair_summary(report: DefenceReport) -> str:
    """How closely clinical items and their neutral controls are matched."""
    pairs = report.lexical.pairs if isinstance(report.lexical, Separability) else None
    if pairs is None or not pairs.n_pairs:
        return "none."
    return (f"{pairs.n_pairs} pairs; word-count difference mean "
            f"{fmt_num(pairs.word_diff_pct_mean, 1)}% (max {fmt_num(pairs.word_diff_pct_max, 1)}"
            f"%); same sentence count in {fmt_share(pairs.same_sentence_count_rate)}; word-set "
            f"Jaccard mean {fmt_num(pairs.jaccard_mean)} (min {fmt_num(pairs.jaccard_min)}).")


def card_complex_summary(report: DefenceReport) -> str:
    """How complex_neutral compares with clinical in length and density."""
    m = report.complex_neutral_matching
    if isinstance(m, NotComputed):
        return "not computed."
    wc, cw, nu = m.word_count, m.content_words_per_sentence, m.numerals_per_sentence
    return (f"mean {wc.complex_neutral_mean:.1f} vs {wc.clinical_mean:.1f} words (Mann-Whitney "
            f"p = {fmt_num(wc.mann_whitney.p_value)}); content words per sentence "
            f"{cw.complex_neutral_mean:.2f} vs {cw.clinical_mean:.2f}; numerals per sentence "
            f"{nu.complex_neutral_mean:.2f} vs {nu.clinical_mean:.2f}.")


def card_values(report: DefenceReport) -> dict[str, str]:
    """The card template's placeholders that come from the defence report."""
    return {"pair_summary": card_pair_summary(report),
            "complex_summary": card_complex_summary(report),
            "defence_section": card_defence_section(report),
            "norms_section": card_norms_section(report)}


def datasheet_values(report: DefenceReport) -> dict[str, str]:
    """The datasheet template's placeholders that come from the defence report."""
    norms = report.norms
    if norms.computed and norms.current is not None:
        cur = norms.current
        summary = (f"{cur.n_ratings} current ratings by {cur.n_readers} AI language-model "
                   "readers (not human raters), at least three per text; read as intended: "
                   + "; ".join(f"{k} {d.agreement:.1%}" for k, d in ordered(cur.by_split)
                               if d.agreement is not None)
                   + f"; Fleiss' kappa {cur.fleiss_kappa}")
    else:
        summary = "no reading norms recorded"
    return {"norms_summary": summary,
            "lexicon_forms": str(report.keyword_screen.lexicon_surface_forms)}
