"""Render the defence report as Markdown: every number comes from report.json."""

from __future__ import annotations

from typing import Any

from .norms import render_markdown as render_norms


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _num(x: float | None, nd: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def _test(t: dict[str, Any] | None) -> str:
    if not t:
        return "not computed"
    eff = (f", {t['effect_name']} = {_num(t['effect_size'])}" if t.get("effect_size") is not None
           else "")
    return f"{t['test']} ({t['alternative']}), n = {t['n']}, p = {_p(t['p_value'])}{eff}"


def _split_table(stats: dict[str, Any], title: str) -> list[str]:
    lines = [f"| split | n | mean {title} | sd | median |", "|---|---:|---:|---:|---:|"]
    for split, d in stats.items():
        lines.append(f"| {split} | {d['n']} | {_num(d['mean'])} | {_num(d['sd'])} | "
                     f"{_num(d['median'])} |")
    return lines


def _accuracy(block: dict[str, Any]) -> list[str]:
    lines = []
    for split in ("clinical", "keyword_rich"):
        if split not in block:
            continue
        b = block[split]
        line = (f"- {split}: top-1 accuracy {b['accuracy']:.3f} over {b['n']} items "
                f"(chance {b['chance']:.3f}; binomial p = {_p(b['binomial']['p_value'])})")
        if "accuracy_covered" in b:
            line += (f"; over the emotions the model covers ({', '.join(b['covered_emotions'])})"
                     f" {b['accuracy_covered']:.3f} (p = {_p(b['binomial_covered']['p_value'])})")
        lines.append(line)
    if "mcnemar_twins" in block:
        lines.append(f"- clinical vs keyword-rich twins: {_test(block['mcnemar_twins'])}")
    return lines


def render(report: dict[str, Any]) -> str:
    r = report
    out = [f"# affect-battery defence report (v{r['affect_battery_version']}, {r['mode']} mode)",
           "", "Items per split: " + ", ".join(f"{k} {v}" for k, v in r["counts"].items()), ""]
    if r.get("missing_splits"):
        out += [f"Not yet written: {', '.join(r['missing_splits'])} (tests that need them are "
                "not computed).", ""]
    ks = r["keyword_screen"]
    out += ["## Keyword screen",
            f"Emotion-term lexicon with {ks['lexicon_surface_forms']} surface forms. Items with "
            "any hit: " + ", ".join(f"{k} {v}" for k, v in ks["items_with_hits_by_split"].items())
            + " (only keyword_rich may have hits).", ""]
    lexsep = r.get("lexical")
    if lexsep:
        from .lexical import render_markdown as lex_md

        out += lex_md(lexsep) + [""]
    norms = r.get("norms")
    if norms:
        out += render_norms(norms) + [""]
    cxm = r.get("complex_neutral_matching")
    if cxm:
        from .complexity import render_markdown as cx_md

        out += cx_md(cxm) + [""]
    v = r["vader"]
    out += ["## VADER (bag-of-words valence)"] + _split_table(v["by_split"], "compound") + [
        "", f"- clinical vs neutral over matched pairs: {_test(v['clinical_vs_neutral_pairs'])}",
        f"- clinical vs neutral as groups: {_test(v['clinical_vs_neutral_groups'])}",
        "- words that drive the clinical/neutral difference (valence x count difference): "
        + ", ".join(f"{d['word']} ({d['valence']:+.1f}; {d['counts']['clinical']} vs "
                    f"{d['counts']['neutral']})" for d in v["drivers"][:15]),
        "- drivers that are emotion terms of our lexicon: "
        + (", ".join(v["drivers_that_are_emotion_terms"]) or "none"), ""]
    n = r["nrc"]
    out += ["## NRC emotion lexicon"] + _split_table(n["hit_rate_by_split"], "hit rate") + [
        "", f"- hit rate, clinical vs neutral pairs: "
        f"{_test(n['hit_rate_clinical_vs_neutral_pairs'])}"] + _accuracy(n["top1"]) + [
        f"- {n['top1_note']}.", f"- Licence: {n['licence']}.", ""]
    c = r.get("classifier")
    if c:
        t = c["trend_neutral_moderate_clinical"]
        out += [f"## Contextual classifier ({c['name']})"] + _split_table(
            c["p_emotional_by_split"], "P(emotional)") + [
            "", f"- clinical > neutral over matched pairs: {_test(c['clinical_gt_neutral_pairs'])}",
            f"- trend neutral < moderate < clinical: means "
            f"{', '.join(_num(x) for x in t['means']) if t['means'] else 'n/a'}; "
            f"{_test(t['test'])}",
            f"- complex_neutral vs neutral: {_test(c['complex_neutral_vs_neutral'])}",
        ] + _accuracy(c["top1"]) + [""]
    else:
        out += ["## Contextual classifier", "Not run (--classifier none).", ""]
    out += ["Figures: p_emotional_by_split.png, vader_by_split.png, confusion_*.png. "
            "Per-item values: items.csv.", ""]
    return "\n".join(out)
