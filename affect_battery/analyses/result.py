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


def headline(results: Section) -> Section:
    """The figures a card or a closing note quotes, flat and typed."""
    h: Section = {}
    p = results.get("probing", {})
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
    if "behaviour" in results and "clinical" in results["behaviour"]:
        h["model_answer_accuracy_clinical"] = round(results["behaviour"]["clinical"]["accuracy"],
                                                    4)
    h["total_wall_time_s"] = round(results["timings_s"].get("total_s", 0.0), 1)
    return h
