"""report.md: one renderer per section of the defence report, in reading order.

Each ``*_markdown`` function takes its typed section and returns lines; :func:`render_markdown`
puts them together. Thresholds come from the section's recorded targets or from the checking
module's constants. A new section adds one function here and one line to ``render_markdown``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...core.constants import EMOTIONS
from ..accuracy import OwnEmotion, Top1
from ..complexity import LENGTH_MATCH_ALPHA, ComplexSection
from ..contextual import ClassifierSection
from ..defence import DefenceReport
from ..describe import Summary
from ..keyword_screen import ALLOWED_SPLIT, KeywordScreenSection
from ..lexical import PAIR_WIN_CHANCE, LexicalSection, Separability
from ..norms import NORMED_SPLITS, NormsSection
from ..norms_kit.tables import rater_table
from ..nrc import NrcSection
from ..records import NotComputed
from ..vader import VaderSection
from .fmt import fmt_counts, fmt_num, fmt_p, fmt_pct, fmt_share, fmt_test, ordered

SHOWN_DRIVERS = 15
"""VADER drivers listed in report.md (report.json keeps all of them)."""
SHOWN_PROBLEMS = 30
"""Norms problems listed in Markdown (report.json keeps all of them)."""


def _split_table(stats: Mapping[str, Summary], title: str) -> list[str]:
    lines = [f"| split | n | mean {title} | sd | median |", "|---|---:|---:|---:|---:|"]
    for split, d in ordered(stats):
        lines.append(f"| {split} | {d.n} | {fmt_num(d.mean)} | {fmt_num(d.sd)} | "
                     f"{fmt_num(d.median)} |")
    return lines


def _accuracy(top: Top1) -> list[str]:
    lines = []
    for split, b in top.by_split().items():
        line = (f"- {split}: top-1 accuracy {b.accuracy:.3f} over {b.n} items "
                f"(chance {b.chance:.3f}; binomial p = {fmt_p(b.binomial.p_value)})")
        if b.accuracy_covered is not None and b.covered_emotions and b.binomial_covered:
            line += (f"; over the emotions the model covers ({', '.join(b.covered_emotions)})"
                     f" {b.accuracy_covered:.3f} (p = {fmt_p(b.binomial_covered.p_value)})")
        lines.append(line)
    if top.mcnemar_twins is not None:
        lines.append(f"- clinical vs keyword-rich twins: {fmt_test(top.mcnemar_twins)}")
    return lines


SHOWN_REVIEW_TERMS = 10
"""Review-tier entries listed in report.md (report.json keeps all of them)."""


def keyword_markdown(ks: KeywordScreenSection) -> list[str]:
    """Lexicon size and items with an error-tier hit by split; the review tier (words with a
    common literal sense: warnings, not failures) counted on its own line."""
    lines = ["## Keyword screen",
             f"Emotion-term lexicon with {ks.lexicon_surface_forms} surface forms. Items with "
             f"any hit: {fmt_counts(ks.items_with_hits_by_split)} (only {ALLOWED_SPLIT} may "
             "have hits)."]
    if ks.lexicon_review_forms or ks.items_with_review_hits_by_split:
        terms = ", ".join(f"{t} {n}" for t, n in
                          list(ks.review_hits_by_term.items())[:SHOWN_REVIEW_TERMS])
        lines.append(
            f"Review tier ({ks.lexicon_review_forms} surface forms with a common literal "
            "sense; a warning to read in context, never a failure): items with a review hit: "
            f"{fmt_counts(ks.items_with_review_hits_by_split)}"
            + (f"; outside {ALLOWED_SPLIT}, by entry: {terms}." if terms else "."))
    return lines


def lexical_markdown(lex: LexicalSection) -> list[str]:
    """AUROCs against their targets, pair win rates, pair matching and the telling n-grams."""
    if isinstance(lex, NotComputed):
        return ["## Lexical separability", f"Not computed: {lex.reason}."]
    cvn, pairs, t = lex.clinical_vs_neutral, lex.pairs, lex.targets
    lines = ["## Lexical separability (bag of words, folds grouped by scenario)",
             f"- TF-IDF logistic regression, clinical vs neutral: AUROC {cvn.tfidf_auroc:.3f} "
             f"(target <= {t.tfidf_auroc_max:.2f})",
             f"- word count alone: AUROC {cvn.wordcount_auroc:.3f} "
             f"(target <= {t.wordcount_auroc_max:.2f})",
             f"- matched pairs whose clinical item scores above its own neutral: TF-IDF "
             f"{fmt_num(cvn.tfidf_pair_win_rate)}, word count "
             f"{fmt_num(cvn.wordcount_pair_win_rate)} (chance {PAIR_WIN_CHANCE})",
             f"- pairs: word-set Jaccard mean {fmt_num(pairs.jaccard_mean)} (min "
             f"{fmt_num(pairs.jaccard_min)}; aim, not target: mean >= "
             f"{t.mean_jaccard_min:.1f}); word-count difference mean "
             f"{fmt_num(pairs.word_diff_pct_mean, 1)}% (max {fmt_num(pairs.word_diff_pct_max, 1)}"
             f"%); same sentence count {fmt_share(pairs.same_sentence_count_rate)}",
             f"- targets met: {'yes' if lex.meets_targets else 'NO'}"]
    if lex.eight_class_clinical is not None:
        e = lex.eight_class_clinical
        lines.append(f"- 8-class on clinical (TF-IDF): macro AUROC {e.macro_auroc:.3f}, "
                     f"accuracy {e.accuracy:.3f} (chance {e.chance:.3f})")
    lines += ["", *emotion_table(lex)]
    lines.append("")
    lines.append("Features that most give a clinical item away: " + ", ".join(
        f"{f.feature} ({f.weight:+.2f})" for f in lex.top_features.clinical))
    lines.append("Features that most mark a neutral: " + ", ".join(
        f"{f.feature} ({f.weight:+.2f})" for f in lex.top_features.neutral))
    return lines


def emotion_table(lex: Separability) -> list[str]:
    """Per-emotion separability, with the per-emotion targets in the header."""
    t = lex.targets
    lines = [f"| emotion | TF-IDF AUROC (target <= {t.tfidf_auroc_per_emotion_max:.2f}) | "
             f"word-count AUROC (target <= {t.wordcount_auroc_max:.2f}) | TF-IDF pair win rate "
             "| pairs |", "|---|---:|---:|---:|---:|"]
    for emo, d in ordered(lex.clinical_vs_neutral.by_emotion):
        lines.append(f"| {emo} | {d.tfidf_auroc:.3f} | {d.wordcount_auroc:.3f} | "
                     f"{fmt_num(d.tfidf_pair_win_rate)} | {d.n_pairs} |")
    return lines


def norms_markdown(norms: NormsSection) -> list[str]:
    """The norms tables (first read beside current) for report.md and the dataset card."""
    if not norms.computed or norms.first_read is None or norms.current is None:
        return ["## Reading norms", "", f"Not computed: {norms.note or 'no ratings'}."]
    t, first, cur = norms.targets, norms.first_read, norms.current
    lines = [
        "## Reading norms",
        "",
        f"{norms.note} First read: {first.n_ratings} ratings by {first.n_readers} "
        f"readers, before any revision. Current: {cur.n_ratings} ratings of the current "
        f"texts by {cur.n_readers} readers; {norms.n_items_revised} items were revised "
        f"after reading and re-read by new readers ({norms.n_stale_ratings} ratings of "
        "earlier versions are kept in the ratings file but no longer count). Protocol: "
        "`data/norms/PROTOCOL.md`.",
        "",
        "| split | intended reading | first read: agreement | mean intensity | current: "
        "agreement | mean intensity (SD) | reads / items | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    target = {"clinical": t.clinical_agreement_min, "neutral": t.neutral_none_min,
              "moderate": t.moderate_agreement_min,
              "complex_neutral": t.complex_neutral_none_min}
    for split in NORMED_SPLITS:
        f, c = first.by_split[split], cur.by_split[split]
        intended = "none" if split in ("neutral", "complex_neutral") else "its emotion"
        lines.append(f"| {split} | {intended} | {fmt_pct(f.agreement)} | "
                     f"{fmt_num(f.intensity_mean, 2)} | {fmt_pct(c.agreement)} | "
                     f"{fmt_num(c.intensity_mean, 2)} ({fmt_num(c.intensity_sd, 2)}) | "
                     f"{c.n_reads} / {c.n_items} | >= {target[split]:.0%} |")
    lines += ["", f"Neutral mean intensity target: <= {t.neutral_intensity_mean_max:.2f} "
                  "(0-3 scale); no neutral may be read as emotional by more than "
                  f"{t.neutral_max_emotional_reads_per_item} reader; each moderate item's "
                  "mean intensity must lie strictly between its neutral's and its clinical "
                  "item's.", "",
              "| emotion | clinical as intended: first / current | neutral as none: first / "
              "current | moderate as intended: first / current |", "|---|---:|---:|---:|"]
    for emo in EMOTIONS:
        cells = [f"{fmt_pct(first.by_emotion[emo][s].agreement)} / "
                 f"{fmt_pct(cur.by_emotion[emo][s].agreement)}"
                 for s in ("clinical", "neutral", "moderate")]
        lines.append(f"| {emo} | " + " | ".join(cells) + " |")
    lines += ["", "| reliability | first read | current |", "|---|---:|---:|",
              f"| Fleiss' kappa (label) | {fmt_num(first.fleiss_kappa)} | "
              f"{fmt_num(cur.fleiss_kappa)} |",
              f"| Krippendorff's alpha (label, nominal) | {fmt_num(first.alpha_label)} | "
              f"{fmt_num(cur.alpha_label)} |",
              f"| Krippendorff's alpha (intensity, ordinal) | "
              f"{fmt_num(first.alpha_intensity)} | {fmt_num(cur.alpha_intensity)} |",
              "", "Read as a natural, coherent text (share of reads), first / current: "
              + ", ".join(f"{s} {fmt_pct(first.natural_share[s])} / "
                          f"{fmt_pct(cur.natural_share[s])}" for s in NORMED_SPLITS) + "."]
    # human and AI norms side by side, never pooled (the human norming kit adds them)
    lines += ["", *rater_table(norms)] if norms.n_human_ratings else [
        "", "Human raters: none yet. Every figure above comes from AI readers; a lab can add "
        "human norms with `affect-battery norms study` and `norms ingest` (README)."]
    problems = norms.problems
    lines += ["", f"Targets met: **{'yes' if norms.meets_targets else 'no'}**"
              + (f"; {len(problems)} item problem(s):" if problems else ".")]
    lines += [f"- `{p.item_id}`: {p.problem}" for p in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"- ... and {len(problems) - SHOWN_PROBLEMS} more (report.json)")
    return lines


def complexity_markdown(block: ComplexSection) -> list[str]:
    """complex_neutral vs clinical: length matched, at least as dense."""
    if isinstance(block, NotComputed):
        return ["## complex_neutral matching", f"Not computed: {block.reason}."]
    wc, cw, nu = block.word_count, block.content_words_per_sentence, block.numerals_per_sentence
    return ["## complex_neutral matching",
            f"- word count: complex_neutral mean {wc.complex_neutral_mean:.1f} vs clinical "
            f"{wc.clinical_mean:.1f}; Mann-Whitney p = {fmt_num(wc.mann_whitney.p_value)} "
            f"(target p > {LENGTH_MATCH_ALPHA:.2f}: "
            f"{'met' if block.length_matched else 'NOT met'})",
            f"- content words per sentence: {cw.complex_neutral_mean:.2f} vs "
            f"{cw.clinical_mean:.2f}; numerals per sentence: {nu.complex_neutral_mean:.2f} "
            f"vs {nu.clinical_mean:.2f} (at least as dense: "
            f"{'yes' if block.at_least_as_dense else 'NO'})"]


def vader_markdown(v: VaderSection) -> list[str]:
    """Compound by split, paired and group tests, and the words that drive the difference."""
    return ["## VADER (bag-of-words valence)", *_split_table(v.by_split, "compound"), "",
            f"- clinical vs neutral over matched pairs: {fmt_test(v.clinical_vs_neutral_pairs)}",
            f"- clinical vs neutral as groups: {fmt_test(v.clinical_vs_neutral_groups)}",
            "- words that drive the clinical/neutral difference (valence x count difference): "
            + ", ".join(f"{d.word} ({d.valence:+.1f}; {d.counts['clinical']} vs "
                        f"{d.counts['neutral']})" for d in v.drivers[:SHOWN_DRIVERS]),
            "- drivers that are emotion terms of our lexicon: "
            + (", ".join(v.drivers_that_are_emotion_terms) or "none")]


def nrc_markdown(n: NrcSection) -> list[str]:
    """Hit rates by split, the paired test and top-1 categorisation."""
    return ["## NRC emotion lexicon", *_split_table(n.hit_rate_by_split, "hit rate"), "",
            "- hit rate, clinical vs neutral pairs: "
            f"{fmt_test(n.hit_rate_clinical_vs_neutral_pairs)}",
            *_accuracy(n.top1), f"- {n.top1_note}.", f"- Licence: {n.licence}."]


def _own_emotion(o: OwnEmotion | None) -> str:
    if o is None:
        return "not computed (no neutral items)"
    return (f"{o.hits} of {o.n} ({fmt_num(o.rate)}; chance {o.chance:.3f}; binomial p = "
            f"{fmt_p(o.binomial.p_value)})")


def classifier_markdown(c: ClassifierSection | None) -> list[str]:
    """P(emotional) by split, pair and trend tests, categorisation, neutrals' own emotion."""
    if c is None:
        return ["## Contextual classifier", "Not run (--classifier none, or the 'classifier' "
                "extra is not installed: the lexicon-only defence battery)."]
    t = c.trend_neutral_moderate_clinical
    means = ", ".join(fmt_num(x) for x in t.means) if t.means else "n/a"
    return [f"## Contextual classifier ({c.name})",
            *_split_table(c.p_emotional_by_split, "P(emotional)"), "",
            f"- clinical > neutral over matched pairs: {fmt_test(c.clinical_gt_neutral_pairs)}",
            f"- trend neutral < moderate < clinical: means {means}; {fmt_test(t.test)}",
            f"- complex_neutral vs neutral: {fmt_test(c.complex_neutral_vs_neutral)}",
            *_accuracy(c.top1),
            "- neutral controls categorised as their own scenario's emotion: "
            + _own_emotion(c.neutral_own_emotion)]


def figures_line(figures: Sequence[str] | None) -> str:
    """The closing line, naming only the figures actually written (none: no figure named)."""
    named = f"Figures: {', '.join(figures)}. " if figures else ""
    return f"{named}Per-item values: items.csv."


def render_markdown(report: DefenceReport, figures: Sequence[str] | None = None) -> str:
    """report.md: every section, every number from the report; ``figures`` are the file names
    :func:`~.figures.write_figures` wrote (listed as given, so report.md names no missing
    file)."""
    r = report
    out = [f"# affect-battery defence report (v{r.affect_battery_version}, {r.mode} mode)",
           "", f"Items per split: {fmt_counts(r.counts)}", ""]
    if r.missing_splits:
        out += [f"Not yet written: {', '.join(r.missing_splits)} (tests that need them are "
                "not computed).", ""]
    if r.battery_source:  # an imported battery: say which, and what could not run on it
        out += [f"Battery: imported from `{r.battery_source.get('spec', '?')}` "
                f"({r.battery_source.get('layout', '?')} layout); not the affect-battery "
                "release.", ""]
    if r.not_computed:
        out += [f"- not computed: {name}: {nc.reason}" for name, nc in r.not_computed.items()]
        out += [""]
    for section in (keyword_markdown(r.keyword_screen), lexical_markdown(r.lexical),
                    norms_markdown(r.norms), complexity_markdown(r.complex_neutral_matching),
                    vader_markdown(r.vader), nrc_markdown(r.nrc),
                    classifier_markdown(r.classifier)):
        out += [*section, ""]
    out += [figures_line(figures), ""]
    return "\n".join(out)
