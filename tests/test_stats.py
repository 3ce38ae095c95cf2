"""Each statistic against a small case computed by hand."""

import math

import pytest

from affect_battery.validators import stats
from affect_battery.validators.stats import (
    binomial_vs_chance,
    mann_whitney,
    mcnemar_exact,
    page_trend,
    wilcoxon_paired,
)


def test_wilcoxon_all_positive_differences():
    # differences 1..5, all positive: W+ = 15, exact one-sided p = 1/2^5
    r = wilcoxon_paired([2, 4, 6, 8, 10], [1, 2, 3, 4, 5])
    assert r.statistic == 15
    assert r.p_value == pytest.approx(1 / 32)
    assert r.effect_size == 1.0


def test_wilcoxon_mixed_signs_rank_biserial():
    # differences +1, +2, -3, +4: W+ = 1+2+4 = 7, W- = 3, r = (7-3)/10
    r = wilcoxon_paired([1, 2, 0, 4], [0, 0, 3, 0])
    assert r.effect_size == pytest.approx(0.4)
    # exact one-sided p: sign patterns with W+ >= 7 among 16 -> {7,8,9,10} = 1+1+1+1... count
    patterns = [sum(k for k, s in zip((1, 2, 3, 4), bits, strict=True) if s)
                for bits in __import__("itertools").product((0, 1), repeat=4)]
    assert r.p_value == pytest.approx(sum(w >= 7 for w in patterns) / 16)


def test_mann_whitney_complete_separation():
    r = mann_whitney([4, 5, 6], [1, 2, 3], alternative="greater")
    assert r.statistic == 9 and r.effect_size == 1.0
    assert r.p_value == pytest.approx(1 / math.comb(6, 3))


def test_binomial_vs_chance():
    r = binomial_vs_chance(3, 3, 1 / 8)
    assert r.p_value == pytest.approx((1 / 8) ** 3)
    assert r.effect_size == 1.0


def test_mcnemar_exact():
    a = [False] * 6 + [True] * 4
    b = [True] * 6 + [True] * 4
    r = mcnemar_exact(a, b)
    assert r.p_value == pytest.approx(2 * 0.5 ** 6)
    assert r.effect_size == pytest.approx(0.6)
    assert mcnemar_exact([True, False], [True, False]).p_value == 1.0


def test_page_trend_statistic():
    # three subjects ranking conditions 1 < 2 < 3 perfectly: L = 1*3 + 2*6 + 3*9 = 42
    r = page_trend([[0.1, 0.2, 0.0], [0.5, 0.6, 0.4], [0.9, 0.8, 0.7]])
    assert r.statistic == 42 and r.effect_size == 1.0
    assert r.p_value < 0.05


def test_degenerate_inputs_do_not_crash():
    assert wilcoxon_paired([1, 1], [1, 1]).p_value == 1.0
    assert math.isnan(mann_whitney([], [1]).p_value)
    assert math.isnan(binomial_vs_chance(0, 0, 0.5).p_value)
    assert mann_whitney([], [1]).to_dict()["p_value"] is None


def test_result_json_round_trip_keeps_undefined_numbers_null():
    """report.json writes NaN as null; reading it back gives NaN again, and the same JSON."""
    undefined = mann_whitney([], [1.0])
    d = undefined.to_dict()
    assert d["statistic"] is None and d["p_value"] is None
    back = stats.TestResult.from_dict(d)
    assert math.isnan(back.p_value) and back.to_dict() == d
    defined = wilcoxon_paired([3.0, 2.0, 5.0], [1.0, 1.0, 1.0])
    assert stats.TestResult.from_dict(defined.to_dict()) == defined
