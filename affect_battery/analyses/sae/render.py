"""Rendering of the ``sae`` section: its report.md lines and its figure.

Kept beside the method (``analyses.report`` lists them with the other sections' renderers) so
the shared report module gains two lines, not a page. Nothing here computes a result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..._util.plotting import pyplot, save_figure
from ..result import Section


def _n(x: Any, fmt: str = "+.3f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _md_ablation(a: Section) -> list[str]:
    if "note" in a:
        return [f"- causal check: {a['note']}"]
    lines = [f"- causal check on {a['n_items']} clinical items (baseline emotion - none logit "
             f"difference {a['baseline_ld']:+.3f}), top {a['k']} affect latents "
             f"({a.get('selection', 'FDR')}) ablated with "
             f"the SAE error term kept, against {a['random_draws']} draws of as many random "
             "latents matched on firing frequency:"]
    for method in ("zero", "mean"):
        m = a.get(method)
        if m:
            lines.append(f"  - {method} ablation: change {m['affect_ld_change']:+.3f}; random "
                         f"latents {_n(m['random_ld_change_mean'])} (range "
                         f"{_n(m['random_ld_change_min'])} to {_n(m['random_ld_change_max'])})")
    return lines


def sae_markdown(r: Section) -> list[str]:
    """The report.md section of the sae step."""
    s = r.get("sae")
    if not s:
        return []
    lines = ["", "## Sparse-autoencoder features", ""]
    if "by_position" not in s:
        return lines + [f"- {s.get('note', 'not run')}"]
    info = s["sae"]
    q = info["on_battery_stimulus_tokens"]
    lines.append(f"- SAE {info['source']} ({info['architecture']}, {info['d_sae']} latents"
                 + (f", k={info['k']}" if info.get("k") else "") + f") at {info['site']}; on "
                 f"the battery's stimulus tokens: explained variance "
                 f"{q['explained_variance']:.3f}, dead latents {q['dead_fraction']:.1%}")
    held = (info.get("training") or {}).get("held_out")
    if held:
        lines.append(f"- training (held-out tokens): explained variance "
                     f"{held['explained_variance']:.3f}, MSE {held['mse']:.4g}; dead latents "
                     f"on the training tokens {info['training']['train']['dead_fraction']:.1%}")
    if info.get("note"):
        lines.append(f"- **This SAE is {info['note']}.**")
    lines += ["", "| position | pairs | clinical > neutral | clinical < neutral | of them: twin > "
              "clinical | twin < clinical | moderate > neutral | dose-ordered |",
              "|---|---|---|---|---|---|---|---|"]
    for pos, b in s["by_position"].items():
        lines.append(f"| {pos} | {b['n_pairs']} | {b['clinical_above_neutral']} | "
                     f"{b['clinical_below_neutral']} | "
                     f"{b['of_them_keyword_rich_above_clinical']} | "
                     f"{b['of_them_keyword_rich_below_clinical']} | "
                     f"{b['of_them_moderate_above_neutral']} | {b['of_them_dose_ordered']} |")
    lines += ["", "Counts are latents with Benjamini-Hochberg q < 0.05 (Wilcoxon signed-rank "
              "within matched pairs); 'twin > clinical' means the keyword-rich twin activates "
              "the latent more than its keyword-free clinical item (the emotion word adds to "
              "it).", ""]
    share = s.get("top_tokens_emotion_word_share") or {}
    if share.get("n_tokens"):
        lines.append(f"- top-activating tokens of the {share['n_latents']} strongest affect "
                     f"latents: {share['emotion_word_share']:.1%} are emotion words a twin "
                     f"adds; {len(share['latents_mostly_emotion_words'])} latents fire mostly "
                     "on such words, the rest on situational words")
    if s.get("affect_latents"):
        lines.append(f"- strongest affect latents ({s.get('affect_latent_selection', '')}):")
    for e in s.get("affect_latents", [])[:8]:
        lines.append(f"  - latent {e['latent']} ({e['position']}, r = "
                     f"{e['clinical_vs_neutral_r']:+.2f}, q = {e['clinical_vs_neutral_q']:.2g}; "
                     f"twin - clinical r = "
                     f"{_n(e.get('keyword_vs_clinical_r'), '+.2f')}): "
                     + ", ".join(e["top_tokens"][:6]))
    lines += _md_ablation(s.get("ablation") or {})
    return lines


def sae_figure(table: pd.DataFrame, path: Path) -> None:
    """Per position: each latent's clinical - neutral rank-biserial against its twin -
    clinical one, latents separating clinical from neutral (q < 0.05) highlighted."""

    plt = pyplot()
    positions = list(dict.fromkeys(table["position"]))
    fig, axes = plt.subplots(1, len(positions), figsize=(5 * len(positions), 4.2), dpi=120,
                             squeeze=False)
    for ax, pos in zip(axes[0], positions, strict=True):
        sub = table[table["position"] == pos]
        wide = sub.pivot(index="latent", columns="contrast", values=["rank_biserial", "q"])
        if ("rank_biserial", "clinical_vs_neutral") not in wide:
            continue
        x = wide[("rank_biserial", "clinical_vs_neutral")]
        y = wide[("rank_biserial", "keyword_vs_clinical")] \
            if ("rank_biserial", "keyword_vs_clinical") in wide else x * 0
        sig = wide[("q", "clinical_vs_neutral")] < 0.05
        ax.scatter(x[~sig], y[~sig], s=4, c="lightgrey", label="not separating")
        ax.scatter(x[sig], y[sig], s=8, c="C3", label="clinical vs neutral, q < 0.05")
        ax.axhline(0, color="grey", lw=0.6)
        ax.axvline(0, color="grey", lw=0.6)
        ax.set_xlabel("rank-biserial r, clinical - neutral")
        ax.set_ylabel("rank-biserial r, keyword-rich twin - clinical")
        ax.set_title(f"SAE latents ({pos} position)")
        ax.legend(fontsize=7)
    save_figure(fig, path)
