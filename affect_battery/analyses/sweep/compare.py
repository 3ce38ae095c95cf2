"""Comparing a sweep's finished runs: one row per run and layer with its relative depth, the
best layer of each run, and a figure of the metric by relative depth."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..._util.atomic import atomic_write_bytes, atomic_write_text
from ..._util.plotting import pyplot
from ...errors import UsageError
from .metrics import DEFAULT_METRICS, METRICS, Metric, metric_named
from .spec import Job, SweepSpec
from .state import read_results


def _number(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan


def by_layer(results: Mapping[str, Any], metric: Metric) -> dict[int, tuple[float, float, float]]:
    """``{layer: (value, ci_low, ci_high)}`` of one run (NaN where absent); intervals, as the
    paired margins are, give their estimate and bounds, plain numbers have no bounds."""
    node: Any = results
    for key in metric.path:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return {}
    out = {}
    for layer, v in node.items():
        try:
            layer_n = int(layer)
        except ValueError:
            continue
        if isinstance(v, dict):
            out[layer_n] = (_number(v.get("estimate")), _number(v.get("ci_low")),
                            _number(v.get("ci_high")))
        else:
            out[layer_n] = (_number(v), math.nan, math.nan)
    return out


def comparison_table(jobs: list[Job], metric_names: Iterable[str]) -> pd.DataFrame:
    """One row per finished run and layer: the run's coordinates, the layer's relative depth
    ``layer / (n_layers - 1)`` and every metric asked for (with bounds where it has them)."""
    rows = []
    for job in jobs:
        results = read_results(job.folder)
        if results is None:
            continue
        n_layers = int(results.get("model", {}).get("n_layers") or 0)
        per = {name: by_layer(results, metric_named(name)) for name in metric_names}
        layers = sorted(set(results.get("layers") or []).union(*(p.keys() for p in per.values())))
        for layer in layers:
            row: dict[str, Any] = {
                "run": job.name, "model": job.model, "model_id": job.config.model,
                "seed": job.seed, "preset": job.preset, "layer": layer, "n_layers": n_layers,
                "relative_depth": layer / (n_layers - 1) if n_layers > 1 else 0.0}
            for name, values in per.items():
                est, lo, hi = values.get(layer, (math.nan,) * 3)
                row[name] = est
                if any(not math.isnan(v[1]) for v in values.values()):
                    row[f"{name}_ci_low"], row[f"{name}_ci_high"] = lo, hi
            rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class Comparison:
    """The comparison across runs: the long table, each run's best layer and the means over
    seeds (per model and preset), for one metric."""

    metric: str
    table: pd.DataFrame
    best: pd.DataFrame
    summary: pd.DataFrame
    missing: list[str]


def _choosemetric_named(jobs: list[Job], metric: str | None) -> str:
    results = [r for r in (read_results(j.folder) for j in jobs) if r is not None]
    if metric is not None:
        if not any(by_layer(r, metric_named(metric)) for r in results):
            raise UsageError(f"metric {metric!r}: none of the runs' results.json has it")
        return metric
    for name in DEFAULT_METRICS:
        if any(by_layer(r, METRICS[name]) for r in results):
            return name
    raise UsageError("no run has a per-layer probing metric (was probing among the methods?)")


def _best(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per run, the layer where the metric peaks (the earliest on a tie; NaN layers ignored)."""
    valid = table.dropna(subset=[metric]).sort_values(["run", "layer"])
    idx = valid.groupby("run", sort=False)[metric].idxmax()
    cols = ["run", "model", "seed", "preset", "layer", "n_layers", "relative_depth", metric]
    cols += [c for c in (f"{metric}_ci_low", f"{metric}_ci_high") if c in table]
    return valid.loc[idx, cols].sort_values(["model", "preset", "seed"]).reset_index(drop=True)


def _summary(best: pd.DataFrame, metric: str) -> pd.DataFrame:
    g = best.groupby(["model", "preset"], sort=True)
    return pd.DataFrame({
        "n_seeds": g["seed"].nunique(), "mean": g[metric].mean(), "min": g[metric].min(),
        "max": g[metric].max(), "mean_best_relative_depth": g["relative_depth"].mean(),
    }).reset_index()


def compare(spec: SweepSpec, out: str | Path | None = None, metric: str | None = None
            ) -> Comparison:
    """Read every finished job's results.json and write comparison.csv, comparison.md and
    comparison.png into the sweep folder."""
    jobs = spec.jobs(out)
    root = jobs[0].folder.parent
    done = [j for j in jobs if read_results(j.folder) is not None]
    if not done:
        raise UsageError(f"{root}: no finished runs to compare")
    chosen = _choosemetric_named(done, metric or spec.metric)
    names = list(dict.fromkeys([chosen, *METRICS]))
    table = comparison_table(done, names)
    table = table.dropna(axis=1, how="all")  # metrics no run has are left out
    best = _best(table, chosen)
    comp = Comparison(chosen, table, best, _summary(best, chosen),
                      [j.name for j in jobs if j not in done])
    atomic_write_text(root / "comparison.csv", table.to_csv(index=False, float_format="%.6f"))
    atomic_write_text(root / "comparison.md", comparison_markdown(comp))
    comparison_figure(comp, root / "comparison.png")
    return comp


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def _md_table(header: list[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    # A pipe table by hand: pandas.to_markdown needs tabulate, one more dependency for 3 lines.
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]


def comparison_markdown(comp: Comparison) -> str:
    m, label = comp.metric, metric_named(comp.metric).label
    ci = f"{m}_ci_low" in comp.best
    lines = [f"# Sweep comparison: {label}", "",
             f"Metric `{m}`, higher is better; the best layer of a run is where it peaks "
             "(earliest on a tie); relative depth is layer / (layers - 1).", "",
             "## Mean over seeds (at each run's best layer)", ""]
    lines += _md_table(["model", "preset", "seeds", f"mean {m}", "min", "max",
                        "mean best relative depth"],
                       comp.summary[["model", "preset", "n_seeds", "mean", "min", "max",
                                     "mean_best_relative_depth"]].itertuples(index=False))
    lines += ["", "## Best layer per run", ""]
    header = ["run", "model", "seed", "preset", "best layer", "of", "relative depth", m]
    rows = []
    for r in comp.best.to_dict("records"):
        row = [r["run"], r["model"], r["seed"], r["preset"], r["layer"], r["n_layers"],
               r["relative_depth"], r[m]]
        if ci:
            row.append(f"[{_fmt(r[f'{m}_ci_low'])}, {_fmt(r[f'{m}_ci_high'])}]")
        rows.append(row)
    lines += _md_table(header + (["95% CI"] if ci else []), rows)
    if comp.missing:
        lines += ["", f"Not compared (no results yet): {', '.join(comp.missing)}."]
    return "\n".join(lines) + "\n"


def comparison_figure(comp: Comparison, path: Path) -> None:
    """The metric by relative depth, one line per model (mean over seeds) with the seeds'
    min-max as a band; one panel per prompt preset."""
    plt = pyplot()
    table, m, meta = comp.table, comp.metric, metric_named(comp.metric)
    presets = sorted(table["preset"].unique())
    fig, axes = plt.subplots(1, len(presets), figsize=(6.5 * len(presets), 4), dpi=120,
                             squeeze=False, sharey=True)
    colours = {model: f"C{k % 10}" for k, model in enumerate(sorted(table["model"].unique()))}
    for ax, preset in zip(axes[0], presets, strict=True):
        sub = table[table["preset"] == preset]
        for model, rows in sub.groupby("model", sort=True):
            curve = rows.groupby("relative_depth")[m].agg(["mean", "min", "max", "count"])
            n = rows["seed"].nunique()
            ax.plot(curve.index, curve["mean"], "-o", ms=3, color=colours[model],
                    label=f"{model} ({n} seed{'s' if n != 1 else ''})")
            if n > 1:
                ax.fill_between(curve.index, curve["min"], curve["max"], color=colours[model],
                                alpha=0.2, lw=0)
        if meta.reference is not None:
            ax.axhline(meta.reference, color="grey", lw=0.8, ls="--")
        ax.set_xlim(0, 1)
        ax.set_xlabel("relative depth (layer / (layers - 1))")
        ax.set_title(f"prompt preset: {preset}", fontsize=9)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel(meta.label)
    fig.suptitle("Sweep: mean over seeds, band = min-max over seeds", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
