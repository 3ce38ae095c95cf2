"""How the defence report writes numbers, p-values, tests and split-keyed tables.

Shared by report.md, the headline and the card so a figure reads the same everywhere. Missing
and undefined (NaN) numbers both print as "n/a": a report read back from JSON has None where
the in-memory one has NaN, and both must render alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TypeVar

from ...core.constants import EMOTIONS, SPLITS
from ..stats import TestResult

V = TypeVar("V")


def defined(x: float | None) -> float | None:
    """None for a missing or undefined (NaN) number, so both print as n/a."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def fmt_p(p: float | None) -> str:
    """A p-value: three decimals, or scientific below 0.001 where decimals would read 0.000."""
    p = defined(p)
    if p is None:
        return "n/a"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def fmt_num(x: float | None, digits: int = 3) -> str:
    """A figure with fixed decimals (three by default, as the report's figures are rounded)."""
    x = defined(x)
    return "n/a" if x is None else f"{x:.{digits}f}"


def fmt_pct(x: float | None) -> str:
    """A share as a percentage with one decimal (the norms tables)."""
    x = defined(x)
    return "n/a" if x is None else f"{x:.1%}"


def ordered(d: Mapping[str, V], order: tuple[str, ...] = (*SPLITS, *EMOTIONS)
            ) -> list[tuple[str, V]]:
    """Items of a split- or emotion-keyed dict in canonical order, whatever the JSON order.

    A report read back from an export (written with sorted keys) renders like the original.
    """
    rank = {k: i for i, k in enumerate(order)}
    return sorted(d.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def fmt_test(t: TestResult | None) -> str:
    """A test in one phrase: name, alternative, n, p and its effect size."""
    if t is None:
        return "not computed"
    effect = defined(t.effect_size)
    eff = f", {t.effect_name} = {fmt_num(effect)}" if effect is not None else ""
    return f"{t.test} ({t.alternative}), n = {t.n}, p = {fmt_p(t.p_value)}{eff}"


def fmt_counts(d: Mapping[str, int]) -> str:
    """``clinical 192, neutral 192, ...`` in canonical order."""
    return ", ".join(f"{k} {v}" for k, v in ordered(d))


def fmt_share(x: float | None) -> str:
    """A share as a whole percentage (headline and summaries)."""
    x = defined(x)
    return "n/a" if x is None else f"{x:.0%}"


def fmt_signed(x: float | None) -> str:
    """A figure whose sign matters (a compound score, a rank-biserial), sign always shown."""
    x = defined(x)
    return "n/a" if x is None else f"{x:+.3f}"


def fmt_g(p: float | None) -> str:
    """A p-value to two significant digits, for the one-line headline."""
    p = defined(p)
    return "n/a" if p is None else f"{p:.2g}"
