"""Statistical tests of the defence battery, each with the effect size a reader needs.

Paired comparisons (clinical vs its own neutral) use the Wilcoxon signed-rank test with the
matched-pairs rank-biserial correlation; independent groups use Mann-Whitney U with its
rank-biserial; ordered conditions over matched triplets use Page's trend test; accuracies use
exact binomial tests against chance; paired accuracies (twins) use the exact McNemar test.
scipy is imported inside each test: the CLI imports the report types built on
:class:`TestResult` for every command, and the gate must start fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TestResult:
    """One test's outcome with the effect size a reader needs (NaN where undefined)."""

    test: str
    statistic: float
    p_value: float
    effect_size: float | None
    effect_name: str | None
    n: int
    alternative: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form: an undefined (NaN) number becomes null."""
        return {k: (None if isinstance(v, float) and np.isnan(v) else v)
                for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestResult:
        """Inverse of :meth:`to_dict` (a null statistic or p-value was NaN)."""
        nan = float("nan")
        return cls(data["test"], nan if data["statistic"] is None else data["statistic"],
                   nan if data["p_value"] is None else data["p_value"], data["effect_size"],
                   data["effect_name"], data["n"], data["alternative"])


def _nan_result(test: str, n: int, alternative: str, effect: str | None) -> TestResult:
    return TestResult(test, float("nan"), float("nan"), None, effect, n, alternative)


def wilcoxon_paired(a: Sequence[float], b: Sequence[float], alternative: str = "greater"
                    ) -> TestResult:
    """Signed-rank test of a - b; effect = matched-pairs rank-biserial (W+ - W-) / (W+ + W-)."""
    from scipy import stats

    x = np.asarray(a, float) - np.asarray(b, float)
    nonzero = x[x != 0]
    if nonzero.size == 0:
        return TestResult("wilcoxon", 0.0, 1.0, 0.0, "rank_biserial", int(x.size), alternative)
    ranks = stats.rankdata(np.abs(nonzero))
    w_plus = float(ranks[nonzero > 0].sum())
    w_minus = float(ranks[nonzero < 0].sum())
    res = stats.wilcoxon(x, alternative=alternative, zero_method="wilcox")
    r = (w_plus - w_minus) / (w_plus + w_minus)
    return TestResult("wilcoxon", float(res.statistic), float(res.pvalue), r, "rank_biserial",
                      int(x.size), alternative)


def mann_whitney(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided"
                 ) -> TestResult:
    """Mann-Whitney U of a vs b; effect = rank-biserial 2U/(n1 n2) - 1 (positive: a larger)."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size == 0 or b.size == 0:
        return _nan_result("mann_whitney", int(a.size + b.size), alternative, "rank_biserial")
    res = stats.mannwhitneyu(a, b, alternative=alternative)
    r = 2 * float(res.statistic) / (a.size * b.size) - 1
    return TestResult("mann_whitney", float(res.statistic), float(res.pvalue), r,
                      "rank_biserial", int(a.size + b.size), alternative)


def page_trend(columns: Sequence[Sequence[float]]) -> TestResult:
    """Page's L test that conditions increase in the given order, over matched rows.

    ``columns[j][i]`` is subject i's score in condition j (e.g. neutral, moderate, clinical).
    Effect = Kendall's W-like share: mean Spearman rho between each row and the hypothesised
    order, in [-1, 1].
    """
    from scipy import stats

    data = np.asarray(columns, float).T
    if data.shape[0] < 2:
        return _nan_result("page_trend", int(data.shape[0]), "increasing", "mean_spearman")
    res = stats.page_trend_test(data)
    order = np.arange(data.shape[1])
    rhos = []
    for row in data:
        if np.ptp(row) == 0:
            rhos.append(0.0)
        else:
            rhos.append(float(stats.spearmanr(row, order).statistic))
    return TestResult("page_trend", float(res.statistic), float(res.pvalue), float(np.mean(rhos)),
                      "mean_spearman", int(data.shape[0]), "increasing")


def binomial_vs_chance(successes: float, n: int, chance: float) -> TestResult:
    """Exact one-sided binomial test that accuracy exceeds chance (successes rounded down)."""
    from scipy import stats

    if n == 0:
        return _nan_result("binomial", 0, "greater", "accuracy")
    k = int(np.floor(successes + 1e-9))
    res = stats.binomtest(k, n, chance, alternative="greater")
    return TestResult("binomial", float(k), float(res.pvalue), successes / n, "accuracy", n,
                      "greater")


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> TestResult:
    """Exact McNemar test over paired outcomes; effect = (b - c) / n, b = only B correct."""
    from scipy import stats

    ca, cb = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a = int(np.sum(ca & ~cb))
    only_b = int(np.sum(~ca & cb))
    n = only_a + only_b
    p = 1.0 if n == 0 else float(stats.binomtest(only_b, n, 0.5).pvalue)
    effect = (only_b - only_a) / ca.size if ca.size else float("nan")
    return TestResult("mcnemar_exact", float(min(only_a, only_b)), p, effect,
                      "accuracy_difference", int(ca.size), "two-sided")
