"""The outcome of one run: sections, tables and timings, and the results.json they make.

The run fills a :class:`RunResult` (never its config); :meth:`RunResult.to_dict` is the one
place that lays out results.json (schema version 1), including the flat ``headline`` block a
dataset card or a closing note quotes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._version import __version__

RESULTS_SCHEMA_VERSION = 1
Section = dict[str, Any]  # a JSON object of results.json (a section, or the whole document)


@dataclass
class RunResult:
    """What a run produced. ``sections`` holds the per-method sections (and ``behaviour`` and
    ``skipped``) in the order they were added; ``timings`` are seconds, unrounded."""

    model: Section
    battery: Section
    config: Section
    prompt_preset: str
    activation_cache_hit: bool
    layers: list[int]
    sections: dict[str, Section] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> Section:
        """results.json, key for key as schema version 1 lays it out."""
        out: Section = {
            "schema_version": RESULTS_SCHEMA_VERSION, "affect_battery_version": __version__,
            "model": self.model, "battery": self.battery, "config": self.config,
            "prompt_preset": self.prompt_preset,
            "activation_cache_hit": self.activation_cache_hit, "layers": self.layers,
            **self.sections,
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
        }
        out["headline"] = headline(out)
        return out


def _paired_headline(prefix: str, pa: Section) -> Section:
    """Within-pair figures of one binary task at its best paired layer, with the text
    baselines measured the same way and the unpaired AUROC beside them."""
    m = pa["margin_vs_tfidf"]["win_rate"]
    h: Section = {
        f"{prefix}_pair_win_rate": round(pa["probe"]["win_rate"], 4),
        f"{prefix}_pair_layer": pa["best_layer"],
        f"{prefix}_difference_probe_accuracy": round(pa["probe"]["difference_accuracy"], 4),
        f"{prefix}_tfidf_pair_win_rate": round(pa["tfidf"]["win_rate"], 4),
        f"{prefix}_tfidf_difference_probe_accuracy": round(pa["tfidf"]["difference_accuracy"],
                                                           4),
        f"{prefix}_wordcount_pair_win_rate": round(pa["wordcount"]["win_rate"], 4),
        f"{prefix}_wordcount_difference_probe_accuracy": round(
            pa["wordcount"]["difference_accuracy"], 4),
        f"{prefix}_pair_margin_vs_tfidf": round(m["estimate"], 4),
        f"{prefix}_pair_margin_ci_low": round(m["ci_low"], 4),
        f"{prefix}_pair_margin_ci_high": round(m["ci_high"], 4),
        f"{prefix}_auroc_at_pair_layer": round(pa["probe"]["auroc"], 4)}
    dose = pa.get("dose_response")
    if dose:
        h["dose_ordered_rate"] = round(dose["ordered_rate"], 4)
        h["dose_page_p"] = float(f"{dose['page_p']:.3g}")
    return h


def _sae_headline(s: Section) -> Section:
    """SAE latents separating clinical from neutral (mean over stimulus tokens), how many of
    them a keyword-rich twin raises further, and the causal check against random latents."""
    if "by_position" not in s:
        return {}
    b = s["by_position"].get("mean") or next(iter(s["by_position"].values()))
    q = s["sae"]["on_battery_stimulus_tokens"]
    h: Section = {"sae_explained_variance_battery": round(q["explained_variance"], 4),
                  "sae_dead_fraction_battery": round(q["dead_fraction"], 4),
                  "sae_latents_clinical_above_neutral": b["clinical_above_neutral"],
                  "sae_latents_also_keyword_rich_above_clinical":
                      b["of_them_keyword_rich_above_clinical"]}
    for method in ("zero", "mean"):
        m = (s.get("ablation") or {}).get(method)
        if m and m.get("random_ld_change_mean") is not None:
            h[f"sae_{method}_ablation_ld_change"] = round(m["affect_ld_change"], 4)
            h[f"sae_{method}_ablation_random_ld_change"] = round(m["random_ld_change_mean"], 4)
    return h


def headline(results: Section) -> Section:
    """The figures a card or a closing note quotes, flat and typed."""
    h: Section = {}
    p = results.get("probing", {})
    if "paired" in p.get("binary", {}):  # the matched pair first: the battery's design
        h.update(_paired_headline("binary", p["binary"]["paired"]))
    if "paired" in p.get("moderate", {}):
        h.update(_paired_headline("moderate", p["moderate"]["paired"]))
    if "binary" in p:
        b = p["binary"]
        h["binary_auroc_best"] = round(b["best_auroc"], 4)
        h["binary_best_layer"] = b["best_layer"]
        h["binary_saturation_layer"] = b["saturation_layer"]
        h["binary_permutation_p"] = round(b["permutation_null"]["p_value"], 4)
        h["tfidf_baseline_auroc"] = round(b["baselines"]["tfidf_auroc"], 4)
        h["wordcount_baseline_auroc"] = round(b["baselines"]["wordcount_auroc"], 4)
    if "eight_class" in p:
        e = p["eight_class"]
        h["eight_class_macro_auroc_best"] = round(e["best_macro_auroc"], 4)
        h["eight_class_best_layer"] = e["best_layer"]
        h["eight_class_accuracy_at_best"] = round(e["accuracy_at_best"], 4)
        h["eight_class_tfidf_macro_auroc"] = round(e["baselines"]["tfidf_macro_auroc"], 4)
    pa = results.get("patching", {})
    if "attribution_vs_exact_overall" in pa:
        overall = pa["attribution_vs_exact_overall"]
        h["attribution_vs_exact_pearson"] = round(overall["pearson"], 4)
        h["attribution_vs_exact_spearman"] = round(overall["spearman"], 4)
    if "relp_vs_exact_overall" in pa:  # Relevance Patching, beside AtP
        overall = pa["relp_vs_exact_overall"]
        h["relp_vs_exact_pearson"] = round(overall["pearson"], 4)
        h["relp_vs_exact_spearman"] = round(overall["spearman"], 4)
    if "attribution_speedup" in pa:
        h["attribution_speedup_x"] = pa["attribution_speedup"]
    k = results.get("knockout", {})
    if k.get("critical_layers"):
        key = "mean/mlp" if "mean/mlp" in k["critical_layers"] else next(
            iter(k["critical_layers"]))
        h["critical_layers_" + key.replace("/", "_")] = k["critical_layers"][key]
    g = results.get("geometry", {})
    if "rsa" in g:
        h["rsa_rho"] = round(g["rsa"]["rho"], 4)
        h["rsa_p"] = round(g["rsa"]["p_value"], 4)
    h.update(_sae_headline(results.get("sae") or {}))
    if "behaviour" in results and "clinical" in results["behaviour"]:
        h["model_answer_accuracy_clinical"] = round(results["behaviour"]["clinical"]["accuracy"],
                                                    4)
    h["total_wall_time_s"] = round(results["timings_s"].get("total_s", 0.0), 1)
    return h
