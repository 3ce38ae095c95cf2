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
from ..core.constants import EMOTIONS
from .capture import CaptureResult
from .geometry import pca_2d
from .result import RunResult, Section


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    _plt().close(fig)


def probing_figure(table: pd.DataFrame, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for pos, style in (("final", "-"), ("mean", "--")):
        sub = table[table["position"] == pos]
        if "binary_auroc" in sub:
            ax.plot(sub["layer"], sub["binary_auroc"], style, label=f"clinical vs neutral ({pos})")
        if "eight_macro_auroc" in sub:
            ax.plot(sub["layer"], sub["eight_macro_auroc"], style,
                    label=f"8-class macro AUROC ({pos})")
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.set_xlabel("layer")
    ax.set_ylabel("AUROC (grouped 5-fold)")
    ax.set_ylim(0.4, 1.01)
    ax.legend(fontsize=7)
    ax.set_title("Linear probes on the residual stream")
    _save(fig, path)


def patching_figure(table: pd.DataFrame, path: Path) -> None:
    plt = _plt()
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
    _save(fig, path)


def knockout_figure(table: pd.DataFrame, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    col = "ld_drop" if table["ld_drop"].notna().any() else "probe_auroc_drop"
    for (method, site), sub in table.groupby(["method", "site"]):
        ax.plot(sub["layer"], sub[col], label=f"{method} {site}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("ablated layer")
    ax.set_ylabel(col.replace("_", " "))
    ax.legend(fontsize=7)
    ax.set_title("Knockout of attention / MLP outputs")
    _save(fig, path)


def pca_figure(frame: pd.DataFrame, cap: CaptureResult, layer: int, path: Path,
               seed: int = 0) -> None:
    plt = _plt()
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
    _save(fig, path)


def steering_figure(table: pd.DataFrame, path: Path) -> None:
    plt = _plt()
    aff = table[table["direction"] == "affect"]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for layer, sub in aff.groupby("layer"):
        ax.plot(sub["strength"], sub["p_any_emotion"], marker="o", label=f"layer {layer}")
    ax.set_xlabel("strength (x mean residual norm)")
    ax.set_ylabel("P(any emotion label) on neutral prompts")
    ax.legend(fontsize=7)
    ax.set_title("Steering along the clinical - neutral direction")
    _save(fig, path)


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


def _md_binary(b: Section) -> list[str]:
    lines = ["", "## Probing (folds grouped by scenario)", "",
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
                     f"layer: AUROC {b['transfer_k_to_c_auroc_at_best']:.3f}")
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
    return ((_md_binary(p["binary"]) if "binary" in p else [])
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
        for kind2, a in e.get("attribution_vs_exact", {}).items():
            lines.append(f"  - attribution vs exact, {kind2}: Pearson {a['pearson']:.3f}, "
                         f"Spearman {a['spearman']:.3f} (n = {a['n']})")
    if "attribution_speedup" in pa:
        lines.append(f"- wall time: exact {pa['wall_time_s']['exact']} s, attribution "
                     f"{pa['wall_time_s']['attribution']} s ({pa['attribution_speedup']}x)")
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
    _md_header, _md_probing, _md_patching, _md_knockout, _md_geometry, _md_steering, _md_footer)


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
