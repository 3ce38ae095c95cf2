"""The short summary ``validate`` and ``demo`` print: a few figures, one per line.

One small function per section, each returning its lines (none when the section has nothing
to say); thresholds come from the report's recorded targets and the blocks' own chance levels.
"""

from __future__ import annotations

from ..contextual import ClassifierSection
from ..defence import DefenceReport
from ..lexical import PAIR_WIN_CHANCE, LexicalSection, Separability
from ..norms import NORMED_SPLITS, NormsSection
from ..nrc import NrcSection
from ..vader import VaderSection
from .fmt import fmt_g, fmt_num, ordered


def _lexical(lx: LexicalSection) -> list[str]:
    if not isinstance(lx, Separability):
        return []
    c, t = lx.clinical_vs_neutral, lx.targets
    line = (f"bag of words, clinical vs neutral: TF-IDF AUROC {c.tfidf_auroc:.3f} "
            f"(target <= {t.tfidf_auroc_max:.2f}), word count AUROC "
            f"{c.wordcount_auroc:.3f} (target <= {t.wordcount_auroc_max:.2f})")
    if c.by_emotion:
        emo, worst = max(ordered(c.by_emotion), key=lambda kv: kv[1].tfidf_auroc)
        line += (f"; highest per emotion: {emo} {worst.tfidf_auroc:.3f} "
                 f"(target <= {t.tfidf_auroc_per_emotion_max:.2f})")
    return [line, f"bag of words within matched pairs: clinical above its own neutral in "
                  f"{fmt_num(c.tfidf_pair_win_rate)} (TF-IDF) and "
                  f"{fmt_num(c.wordcount_pair_win_rate)} (word count) of pairs "
                  f"(chance {PAIR_WIN_CHANCE})"]


def _vader(v: VaderSection) -> list[str]:
    test = v.clinical_vs_neutral_pairs
    if test is None:
        return []
    terms = ", ".join(v.drivers_that_are_emotion_terms) or "none"
    return [f"VADER clinical vs neutral pairs: p = {fmt_g(test.p_value)}; emotion terms "
            f"among its drivers: {terms}"]


def _nrc(n: NrcSection) -> list[str]:
    top = n.top1.clinical
    if top is None:
        return []
    return [f"NRC top-1 category on clinical: {top.accuracy:.3f} (chance {top.chance:.3f})"]


def _classifier(clf: ClassifierSection | None) -> list[str]:
    if clf is None:
        return []
    means = ", ".join(f"{k} {fmt_num(s.mean, 2)}" for k, s in ordered(clf.p_emotional_by_split))
    lines = [f"classifier P(emotional) by split: {means}"]
    test = clf.clinical_gt_neutral_pairs
    if test is not None:
        lines.append(f"clinical > neutral over pairs: p = {fmt_g(test.p_value)}, rank-biserial "
                     f"{fmt_num(test.effect_size, 2)}")
    own = clf.neutral_own_emotion
    if own is not None:
        lines.append(f"classifier on neutral controls: own scenario's emotion for "
                     f"{own.hits} of {own.n} ({fmt_num(own.rate)}; chance {own.chance:.3f}, "
                     f"p = {fmt_g(own.binomial.p_value)})")
    return lines


def _norms(norms: NormsSection) -> list[str]:
    cur = norms.current
    if not norms.computed or cur is None or not cur.n_ratings:
        return []
    def share(split: str) -> str:
        value = cur.by_split[split].agreement
        return "n/a" if value is None else f"{value:.1%}"

    agreement = ", ".join(f"{s} {share(s)}" for s in NORMED_SPLITS)
    first = norms.first_read
    was = (f" (first read, before revision: neutral {first.by_split['neutral'].agreement:.1%})"
           if first is not None and first.by_split["neutral"].agreement is not None else "")
    return [f"reading norms ({cur.n_readers} AI readers, not human raters), read as intended "
            f"(current texts): {agreement}{was}; targets met: "
            f"{'yes' if norms.meets_targets else 'no'}"]


def headline(report: DefenceReport) -> str:
    """The few numbers that summarise the defence report, one per line (CLI and demo)."""
    lines = [*_lexical(report.lexical), *_vader(report.vader), *_nrc(report.nrc),
             *_classifier(report.classifier), *_norms(report.norms)]
    return "\n".join(lines) + "\n"
