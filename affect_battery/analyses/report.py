"""All rendering of an analyses run: results.json, CSV tables, PNG figures and report.md.

The folder is assembled in a temporary directory beside the target and renamed into place, so
a reader never sees half a run. Nothing here computes a result: it renders a
:class:`~.result.RunResult`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._util.atomic import atomic_dir, atomic_write_text
from .._util.plotting import pyplot, save_figure
from ..core.constants import EMOTIONS
from .capture import CaptureResult
from .geometry import pca_2d
from .result import RunResult, Section
from .sae.render import sae_figure, sae_markdown


def _fit_ylim(ax: Any, values: list[float]) -> None:
    """The y-axis fitted to what is drawn, not 0-1: the differences that matter (probe against
    TF-IDF) are a few points apart near the top; chance is drawn only when it is in range."""
    v = np.array([x for x in values if x == x], float)
    if not v.size:
        return
    pad = max(0.01, 0.08 * float(np.ptp(v)))
    lo, hi = max(0.0, float(v.min()) - pad), min(1.0, float(v.max()) + pad)
    ax.set_ylim(lo, hi)
    if lo < 0.5 < hi:
        ax.axhline(0.5, color="grey", lw=0.8)


def _paired_panel(ax: Any, fin: pd.DataFrame, mean: pd.DataFrame, sites: pd.DataFrame
                  ) -> None:
    """Per layer: the probe's pair win rate and difference-probe accuracy, with TF-IDF's and
    word count's win rates on the same folds as horizontal lines (and the attention and MLP
    outputs' win rates, thin, where the run has them)."""
    drawn: list[float] = []
    for site, colour in (("attn", "C4"), ("mlp", "C1")):
        sub = sites[sites["site"] == site] if "site" in sites else sites.iloc[:0]
        if len(sub) and "binary_pair_win_rate" in sub:
            ax.plot(sub["layer"], sub["binary_pair_win_rate"], "-", color=colour, lw=0.8,
                    alpha=0.7, label=f"clinical > neutral, probe on {site} output")
            drawn += sub["binary_pair_win_rate"].tolist()
    for prefix, colour, what in (("binary", "C0", "clinical"), ("moderate", "C2", "moderate")):
        col = f"{prefix}_pair_win_rate"
        if col not in fin or fin[col].isna().all():
            continue
        ax.plot(fin["layer"], fin[col], "-", color=colour, label=f"{what} > neutral, probe")
        drawn += fin[col].tolist()
        if prefix == "binary":
            acc = fin["binary_difference_accuracy"]
            ax.plot(fin["layer"], acc, "--", color=colour, label="difference probe accuracy")
            drawn += acc.tolist()
            if col in mean:
                ax.plot(mean["layer"], mean[col], ":", color=colour, alpha=0.6,
                        label="probe, mean over the stimulus")
                drawn += mean[col].tolist()
        for base, style, name in (("tfidf", "--", "TF-IDF"), ("wordcount", ":", "word count")):
            level = float(fin[f"{prefix}_{base}_pair_win_rate"].iloc[0])
            ax.axhline(level, color="C3" if base == "tfidf" else "C7", ls=style, lw=1,
                       alpha=1.0 if prefix == "binary" else 0.5,
                       label=f"{name} ({what}), {level:.3f}")
            drawn.append(level)
    ax.set_ylabel("pair win rate (ties half)")
    ax.set_title("Within matched pairs (out of fold, grouped by scenario)", fontsize=9)
    _fit_ylim(ax, drawn)
    ax.legend(fontsize=6)


def probing_figure(table: pd.DataFrame, path: Path) -> None:
    """The paired panel first (when the run has pairs), then the unpaired AUROCs."""
    plt = pyplot()
    paired = "binary_pair_win_rate" in table
    fig, axes = plt.subplots(1, 2 if paired else 1, figsize=(12 if paired else 7, 4), dpi=120,
                             squeeze=False)
    sites = table
    if "site" in table:
        sites, table = table[table["position"] == "final"], table[table["site"] == "resid"]
    if paired:
        _paired_panel(axes[0, 0], table[table["position"] == "final"],
                      table[table["position"] == "mean"], sites)
    ax = axes[0, -1]
    drawn: list[float] = []
    for pos, style in (("final", "-"), ("mean", "--")):
        sub = table[table["position"] == pos]
        for col, label in (("binary_auroc", "clinical vs neutral"),
                           ("eight_macro_auroc", "8-class macro AUROC")):
            if col in sub:
                ax.plot(sub["layer"], sub[col], style, label=f"{label} ({pos})")
                drawn += sub[col].tolist()
    ax.set_ylabel("unpaired AUROC (grouped 5-fold)")
    _fit_ylim(ax, drawn)
    if drawn:  # a battery without these probes (e.g. one split only) leaves the panel empty
        ax.legend(fontsize=7)
    ax.set_title("Linear probes on the residual stream, unpaired", fontsize=9)
    from matplotlib.ticker import MaxNLocator

    for a in axes[0]:
        a.set_xlabel("layer")
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    save_figure(fig, path)


def patching_figure(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    kinds = list(dict.fromkeys(table["pair_type"]))
    fig, axes = plt.subplots(len(kinds), 1, figsize=(8, 2.2 * len(kinds)), dpi=120,
                             squeeze=False)
    for ax, kind in zip(axes[:, 0], kinds, strict=True):
        sub = table[table["pair_type"] == kind]
        piv = sub.pivot(index="site", columns="layer", values="normalised_effect")
        im = ax.imshow(piv.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_yticks(range(len(piv.index)), piv.index)
        ax.set_title(f"exact patching, normalised effect: {kind}", fontsize=9)
        fig.colorbar(im, ax=ax)
    axes[-1, 0].set_xlabel("layer")
    save_figure(fig, path)


def knockout_figure(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    col = "ld_drop" if table["ld_drop"].notna().any() else "probe_auroc_drop"
    for (method, site), sub in table.groupby(["method", "site"]):
        ax.plot(sub["layer"], sub[col], label=f"{method} {site}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("ablated layer")
    ax.set_ylabel(col.replace("_", " "))
    ax.legend(fontsize=7)
    ax.set_title("Knockout of attention / MLP outputs")
    save_figure(fig, path)


def pca_figure(frame: pd.DataFrame, cap: CaptureResult, layer: int, path: Path,
               seed: int = 0) -> None:
    plt = pyplot()
    keep = frame["split"].isin(["clinical", "neutral"]).to_numpy()
    x = cap.get("resid", layer, "final")[keep]
    sub = frame[keep]
    z, var = pca_2d(x, seed)
    fig, ax = plt.subplots(figsize=(6.5, 5), dpi=120)
    neutral = (sub["split"] == "neutral").to_numpy()
    ax.scatter(z[neutral, 0], z[neutral, 1], s=8, c="lightgrey", label="neutral")
    cmap = plt.get_cmap("tab10")
    for k, emo in enumerate(EMOTIONS):
        m = ((sub["split"] == "clinical") & (sub["source_emotion"] == emo)).to_numpy()
        ax.scatter(z[m, 0], z[m, 1], s=12, color=cmap(k), label=emo)
    ax.set_xlabel(f"PC1 ({var[0]:.0%})")
    ax.set_ylabel(f"PC2 ({var[1]:.0%})")
    ax.legend(fontsize=7, markerscale=1.5)
    ax.set_title(f"Residual stream at layer {layer}, final token")
    save_figure(fig, path)


def steering_figure(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    aff = table[table["direction"] == "affect"]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for layer, sub in aff.groupby("layer"):
        ax.plot(sub["strength"], sub["p_any_emotion"], marker="o", label=f"layer {layer}")
    ax.set_xlabel("strength (x mean residual norm)")
    ax.set_ylabel("P(any emotion label) on neutral prompts")
    ax.legend(fontsize=7)
    ax.set_title("Steering along the clinical - neutral direction")
    save_figure(fig, path)


# ---- report.md -------------------------------------------------------------------------------

def _md_header(r: Section) -> list[str]:
    m = r["model"]
    lines = [f"# affect-battery analyses: {m['id']}", "",
             f"Model: {m['source']} (revision {m['revision']}), {m['kind']}, {m['n_layers']} "
             f"layers, hidden {m['hidden_size']}, {m['device']} {m['dtype']}. Battery "
             f"{r['affect_battery_version']} ({r['battery']['n_items']} items), prompt preset "
             f"{r['prompt_preset']}.", "", "## Headline", ""]
    for k, v in r["headline"].items():
        lines.append(f"- {k.replace('_', ' ')}: {v}")
    if "behaviour" in r:
        lines += ["", "## The model's own answers (argmax over the answer labels)", ""]
        for split, b in r["behaviour"].items():
            lines.append(f"- {split}: accuracy {b['accuracy']:.3f} (n = {b['n']}), answered "
                         f"'none' {b['answered_none']:.3f}")
    return lines


def _pct(x: float) -> str:
    return f"{x:.3f}"


def _md_paired_row(pa: Section) -> str:
    m = pa["margin_vs_tfidf"]["win_rate"]
    md = pa["margin_vs_tfidf"]["difference_accuracy"]
    return (f"| {pa['task']} | {pa['n_pairs']} | {pa['best_layer']} | "
            f"**{_pct(pa['probe']['win_rate'])}** | {_pct(pa['probe']['difference_accuracy'])} "
            f"| {_pct(pa['tfidf']['win_rate'])} | {_pct(pa['tfidf']['difference_accuracy'])} | "
            f"{_pct(pa['wordcount']['win_rate'])} | "
            f"{_pct(pa['wordcount']['difference_accuracy'])} | "
            f"{m['estimate']:+.3f} [{m['ci_low']:+.3f}, {m['ci_high']:+.3f}] | "
            f"{md['estimate']:+.3f} [{md['ci_low']:+.3f}, {md['ci_high']:+.3f}] | "
            f"{_pct(pa['probe']['auroc'])} | {_pct(pa['tfidf']['auroc'])} |")


def _md_dose(name: str, d: Section) -> str:
    return (f"{name} {d['ordered_rate']:.3f} of {d['n_scenarios']} scenarios (Page's L = "
            f"{d['page_l']:.0f}, p = {d['page_p']:.2g})")


def _md_paired(p: Section) -> list[str]:
    """The matched-pair figures: one summary row per task at its best paired layer, the dose
    response, then the clinical task layer by layer."""
    tasks = [p[k]["paired"] for k in ("binary", "moderate") if "paired" in p.get(k, {})]
    if not tasks:
        return []
    lines = ["", "### Within matched pairs", "",
             "Pair win rate: share of pairs whose upper item the out-of-fold probe scores above "
             "its own neutral (ties half, chance 0.5). Difference probe: logistic regression "
             "on the pairs' differences, out of fold. TF-IDF and word count on the same folds; "
             f"margin = probe - TF-IDF, bootstrap interval: {tasks[0]['bootstrap']}.", "",
             "| task | pairs | layer | probe win rate | difference probe | TF-IDF win rate | "
             "TF-IDF difference | word count win rate | word count difference | win-rate "
             "margin vs TF-IDF [95% CI] | difference margin vs TF-IDF [95% CI] | unpaired "
             "AUROC | TF-IDF AUROC |", "|" + "---|" * 13]
    lines += [_md_paired_row(pa) for pa in tasks]
    b = tasks[0]
    if b.get("dose_response"):
        lines += ["", f"- dose response at layer {b['best_layer']}, scenarios ordered "
                  "clinical > moderate > neutral by the clinical-vs-neutral read-out, which "
                  "never trains on moderates (chance 1/6): "
                  + _md_dose("probe", b["dose_response"])
                  + "; " + _md_dose("TF-IDF", b["tfidf_dose_response"])]
    others = [s for s in b.get("by_site", {}) if s != "resid"]
    for site in others:
        o = b["by_site"][site]
        lines.append(f"- probe on the {site} output: best pair win rate {o['win_rate']:.3f} "
                     f"at layer {o['best_layer']} (difference probe "
                     f"{o['difference_accuracy']:.3f}, unpaired AUROC {o['auroc']:.3f})")
    dose = "dose_ordered_rate_by_layer" in b
    lines += ["", f"Per layer, {b['task']} (final token; residual stream unless named):", "",
              "| layer | probe win rate | difference probe | margin vs TF-IDF [95% CI] | "
              "unpaired AUROC |" + (" dose ordered |" if dose else "")
              + "".join(f" {s} win rate |" for s in others),
              "|" + "---|" * (5 + dose + len(others))]
    for layer, win in b["win_rate_by_layer"].items():
        m = b["margin_vs_tfidf_by_layer"][layer]
        row = (f"| {layer} | {win:.3f} | {b['difference_accuracy_by_layer'][layer]:.3f} | "
               f"{m['estimate']:+.3f} [{m['ci_low']:+.3f}, {m['ci_high']:+.3f}] | "
               f"{b['auroc_by_layer'][layer]:.3f} |")
        if dose:
            row += f" {b['dose_ordered_rate_by_layer'][layer]:.3f} |"
        for site in others:
            row += f" {b['by_site'][site]['win_rate_by_layer'][layer]:.3f} |"
        lines.append(row)
    return lines


def _md_binary(b: Section) -> list[str]:
    lines = ["", "### Unpaired", "",
             f"- clinical vs neutral: best AUROC {b['best_auroc']:.3f} at layer "
             f"{b['best_layer']}, within 2% of the peak from layer {b['saturation_layer']}; "
             f"permutation p = {b['permutation_null']['p_value']:.3f} "
             f"({b['permutation_null']['n_permutations']} permutations, null mean "
             f"{b['permutation_null']['null_mean']:.3f})",
             f"- baselines on the same folds: TF-IDF AUROC "
             f"{b['baselines']['tfidf_auroc']:.3f}, word count "
             f"{b['baselines']['wordcount_auroc']:.3f}"]
    if "transfer_k_to_c_auroc_at_best" in b:
        lines.append(f"- transfer keyword_rich vs neutral -> clinical vs neutral at the best "
                     f"layer: AUROC {b['transfer_k_to_c_auroc_at_best']:.3f}"
                     + (f", pair win rate {b['transfer_k_to_c_pair_win_rate_at_best']:.3f}"
                        if "transfer_k_to_c_pair_win_rate_at_best" in b else ""))
    lines.append("- AUROC by layer: " + ", ".join(f"{k}: {v:.3f}"
                                                   for k, v in b["auroc_by_layer"].items()))
    return lines


def _md_eight_class(e: Section) -> list[str]:
    lines = [f"- 8-class on clinical: best macro AUROC {e['best_macro_auroc']:.3f} at layer "
             f"{e['best_layer']} (accuracy {e['accuracy_at_best']:.3f}, chance "
             f"{e['chance']:.3f}); TF-IDF baseline macro AUROC "
             f"{e['baselines']['tfidf_macro_auroc']:.3f}, word count "
             f"{e['baselines']['wordcount_macro_auroc']:.3f}"]
    if "transfer_k_to_c_accuracy_at_best" in e:
        lines.append(f"- 8-class transfer keyword_rich -> clinical at that layer: accuracy "
                     f"{e['transfer_k_to_c_accuracy_at_best']:.3f}")
    return lines


def _md_probing(r: Section) -> list[str]:
    p = r.get("probing", {})
    if not p:
        return []
    return (["", "## Probing (folds grouped by scenario)"] + _md_paired(p)
            + (_md_binary(p["binary"]) if "binary" in p else [])
            + (_md_eight_class(p["eight_class"]) if "eight_class" in p else []))


def _md_patching(r: Section) -> list[str]:
    pa = r.get("patching")
    if not pa:
        return []
    lines = ["", "## Patching", "", f"Score: {pa['score']}.", ""]
    for kind, e in pa["pair_types"].items():
        lines.append(f"- {kind} ({e['n_pairs']} pairs): top sites "
                     + ", ".join(f"{s['site']}@{s['layer']} ({s['normalised_effect']:+.2f}, "
                                 f"top-1 {s['top1_success']:.2f})"
                                 for s in e.get("top_sites", [])))
        lines += _md_attribution_lines(e.get("attribution_vs_exact", {}),
                                       e.get("relp_vs_exact", {}), e.get("top_k_overlap", {}))
    if "relp_vs_exact_by_site_kind" in pa:
        lines += ["- pooled over the pair types:"] + _md_attribution_lines(
            pa.get("attribution_vs_exact_by_site_kind", {}), pa["relp_vs_exact_by_site_kind"],
            {})
    if "attribution_speedup" in pa:
        w = pa["wall_time_s"]
        relp_time = (f", RelP {w['relp']} s ({pa['relp_speedup']}x)"
                     if "relp_speedup" in pa else "")
        lines.append(f"- wall time: exact {w['exact']} s, attribution (AtP) "
                     f"{w['attribution']} s ({pa['attribution_speedup']}x){relp_time}")
    if "relp_rules" in pa:
        lines.append(f"- RelP rules: {pa['relp_rules']}")
    return lines


def _num(x: Any) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def _md_attribution_lines(atp: Section, relp: Section, overlap: Section) -> list[str]:
    """Per site kind: AtP's and RelP's agreement with exact patching, and top-k overlap."""
    lines = []
    for kind in sorted(set(atp) | set(relp)):
        parts = [f"{name} Pearson {_num(a[kind]['pearson'])}, Spearman "
                 f"{_num(a[kind]['spearman'])}" for name, a in (("AtP", atp), ("RelP", relp))
                 if kind in a]
        n = (atp.get(kind) or relp.get(kind))["n"]
        o = overlap.get(kind)
        top = (f"; top-{o['k']} of {o['n_sites']} sites shared with exact: AtP "
               f"{_num(o.get('atp'))}, RelP {_num(o.get('relp'))}" if o else "")
        lines.append(f"  - {kind} vs exact (n = {n}): " + "; ".join(parts) + top)
    if overlap.get("all"):
        o = overlap["all"]
        lines.append(f"  - all sites: top-{o['k']} of {o['n_sites']} shared with exact: AtP "
                     f"{_num(o.get('atp'))}, RelP {_num(o.get('relp'))}")
    return lines


def _md_knockout(r: Section) -> list[str]:
    k = r.get("knockout")
    if not k:
        return []
    return ["", "## Knockout", "",
            f"{k['n_items']} items; clean logit difference {k['clean_ld']:.3f}, clean probe "
            f"AUROC {k['clean_probe_auroc']:.3f} (read-out layer {k['readout_layer']}).",
            "Critical layers: " + "; ".join(f"{key} {v}" for key, v in
                                            k["critical_layers"].items())]


def _md_geometry(r: Section) -> list[str]:
    g = r.get("geometry")
    if not (g and "rsa" in g):
        return []
    lines = ["", "## Geometry", "",
             f"Layer {g['layer']}: RSA against the Plutchik wheel rho = {g['rsa']['rho']:.3f}"
             f" (permutation p = {g['rsa']['p_value']:.4f})."]
    for name, s in g.get("silhouette", {}).items():
        lines.append(f"- silhouette by {name}: {s['silhouette']:.3f} (p = "
                     f"{s['p_value']:.3f})")
    return lines


def _md_steering(r: Section) -> list[str]:
    s = r.get("steering")
    if not (s and "affect_p_any_emotion" in s):
        return []
    lines = ["", "## Steering", ""]
    for layer, v in s["affect_p_any_emotion"].items():
        lines.append(f"- layer {layer}: P(any emotion) on neutral prompts "
                     f"{v['baseline']:.3f} -> {v['max_strength']:.3f} at the largest strength")
    if "emotion_direction_mean_gain_by_layer" in s:
        gains = s["emotion_direction_mean_gain_by_layer"]
        lines.append("- emotion-specific directions, mean gain in P(that emotion): "
                     + ", ".join(f"layer {k}: {v:+.3f}" for k, v in gains.items()))
    return lines


def _md_footer(r: Section) -> list[str]:
    lines = []
    if r.get("skipped"):
        lines += ["", "Skipped: " + ", ".join(f"{k} ({v})" for k, v in r["skipped"].items())]
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v}" for k, v in r["timings_s"].items()), ""]
    return lines


_MD_SECTIONS: tuple[Callable[[Section], list[str]], ...] = (
    _md_header, _md_probing, _md_patching, _md_knockout, _md_geometry, _md_steering,
    sae_markdown, _md_footer)


def _card_paired_lead(h: Section) -> str:
    """The card's first sentence: the within-pair figure against the text baselines measured
    the same way, the unpaired AUROC beside it (all read from the headline block)."""
    if "binary_pair_win_rate" not in h:
        return ""
    text = (f"Within matched pairs, a linear probe on the residual stream (layer "
            f"{h['binary_pair_layer']}, out of fold, folds grouped by scenario) scores the "
            f"clinical item above its own neutral in {h['binary_pair_win_rate']:.1%} of pairs; "
            f"TF-IDF does so in {h['binary_tfidf_pair_win_rate']:.1%} and word count in "
            f"{h['binary_wordcount_pair_win_rate']:.1%} (margin over TF-IDF "
            f"{h['binary_pair_margin_vs_tfidf']:+.3f}, 95% CI "
            f"[{h['binary_pair_margin_ci_low']:+.3f}, {h['binary_pair_margin_ci_high']:+.3f}]"
            f"). A difference probe on the pairs reaches "
            f"{h['binary_difference_probe_accuracy']:.1%} (TF-IDF "
            f"{h['binary_tfidf_difference_probe_accuracy']:.1%}). The unpaired AUROC, which "
            f"ranks items of different stories against each other, is "
            f"{h['binary_auroc_at_pair_layer']:.3f} at that layer.")
    if "dose_ordered_rate" in h:
        text += (f" Scenarios ordered clinical > moderate > neutral by the same probe: "
                 f"{h['dose_ordered_rate']:.1%} (Page's trend test p = {h['dose_page_p']:.2g}).")
    return text


def card_section(results: Section | None) -> str:
    """A run quoted on the dataset card: its flat ``headline`` block only.

    The block maps figure names to values, written by the suite; nothing is typed by hand, and
    key order in results.json does not change the card.
    """
    if not results:
        return ""
    model = results.get("model") or {}
    name = model.get("id") or model.get("name") or "a model"
    lines = [f"## Reference analyses ({name})", "",
             f"Computed by `affect-battery analyze` (results schema "
             f"{results.get('schema_version', '?')}).", ""]
    lead = _card_paired_lead(results.get("headline") or {})
    if lead:
        lines += [lead, ""]
    for key, value in sorted((results.get("headline") or {}).items()):
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        lines.append(f"- {key.replace('_', ' ')}: {shown}")
    return "\n".join(lines) + "\n\n"


def render_markdown(r: Section) -> str:
    """report.md of a results.json dict, one renderer per section."""
    return "\n".join(line for section in _MD_SECTIONS for line in section(r))


# ---- results.json and the run folder ---------------------------------------------------------

def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if np.isnan(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(type(o).__name__)


def save_json(path: Path, data: Section) -> None:
    """JSON with numpy scalars and arrays as plain values (NaN numpy floats as null)."""
    atomic_write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


_FIGURES: tuple[tuple[str, str, Callable[[pd.DataFrame, Path], None]], ...] = (
    ("probing_by_layer", "probing_by_layer.png", probing_figure),
    ("patching_sites", "patching.png", patching_figure),
    ("knockout", "knockout.png", knockout_figure),
    ("steering", "steering.png", steering_figure),
    ("sae_latents", "sae_latents.png", sae_figure),
)


def write_run(out: Path, result: RunResult, frame: pd.DataFrame, cap: CaptureResult,
              geometry_layer: int, seed: int = 0) -> Section:
    """Write the run folder ``out`` whole; returns the results.json content written."""
    data = result.to_dict()
    with atomic_dir(out) as tmp:
        save_json(tmp / "results.json", data)
        for name, table in result.tables.items():
            table.to_csv(tmp / f"{name}.csv", index=False, float_format="%.6f")
        for name, filename, figure in _FIGURES:
            if name in result.tables and len(result.tables[name]):
                figure(result.tables[name], tmp / filename)
        if "geometry" in data and frame["split"].eq("clinical").sum() >= 8:
            pca_figure(frame, cap, geometry_layer, tmp / "pca.png", seed)
        (tmp / "report.md").write_text(render_markdown(data), encoding="utf-8")
    return data
