"""The per-layer figures a sweep can compare runs by: named ones, or any dotted path to a
``*_by_layer`` block of results.json (checked when the sweep file is read, so a typo fails
before any run)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import UsageError


@dataclass(frozen=True)
class Metric:
    """A per-layer figure of results.json: where it is, and the level that means nothing."""

    path: tuple[str, ...]
    label: str
    reference: float | None


METRICS: dict[str, Metric] = {
    "paired_margin": Metric(("probing", "binary", "paired", "margin_vs_tfidf_by_layer"),
                            "pair win rate margin over TF-IDF (clinical vs neutral)", 0.0),
    "pair_win_rate": Metric(("probing", "binary", "paired", "win_rate_by_layer"),
                            "pair win rate (clinical vs neutral)", 0.5),
    "difference_accuracy": Metric(("probing", "binary", "paired",
                                   "difference_accuracy_by_layer"),
                                  "difference-probe accuracy (clinical vs neutral)", 0.5),
    "moderate_paired_margin": Metric(("probing", "moderate", "paired",
                                      "margin_vs_tfidf_by_layer"),
                                     "pair win rate margin over TF-IDF (moderate vs neutral)",
                                     0.0),
    "moderate_pair_win_rate": Metric(("probing", "moderate", "paired", "win_rate_by_layer"),
                                     "pair win rate (moderate vs neutral)", 0.5),
    "auroc": Metric(("probing", "binary", "auroc_by_layer"),
                    "unpaired AUROC (clinical vs neutral)", 0.5),
    "eight_class_macro_auroc": Metric(("probing", "eight_class", "macro_auroc_by_layer"),
                                      "8-class macro AUROC", 0.5),
}
"""Named per-layer metrics; any other dotted path to a ``*_by_layer`` block works too."""
DEFAULT_METRICS = ("paired_margin", "auroc")  # the first that the runs have is the default


def metric_named(name: str) -> Metric:
    """The metric ``name`` names; a :class:`UsageError` line for an unknown one."""
    if name in METRICS:
        return METRICS[name]
    if "." in name:
        return Metric(tuple(name.split(".")), name, None)
    raise UsageError(f"metric: unknown {name!r}; use {', '.join(METRICS)} or a dotted path "
                     "to a by-layer block of results.json, e.g. probing.binary.auroc_by_layer")
