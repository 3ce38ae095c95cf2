"""Paired (within-scenario) metrics: hand-computed win rates and margins, the difference probe
on data with and without a pair direction, Page's test wiring, agreement with the unpaired
probe and TF-IDF baseline on the same folds, and a whole `analyze --methods probing` run on a
tiny in-process Llama."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from affect_battery._util.cv import grouped_folds, pair_wins
from affect_battery.analyses import paired as pa
from affect_battery.analyses import probing as pr
from affect_battery.core.constants import EMOTIONS
from affect_battery.core.ids import parse_id, scenario_of
from affect_battery.validators.lexical import pair_win_rate

from .tiny_models import save_tiny_llama_lm


def _ids(n_per_emotion: int, prefixes: str = "CNM") -> list[str]:
    return [f"{p}-{e}-d1-{n}" for e in EMOTIONS for n in range(1, n_per_emotion + 1)
            for p in prefixes]


# ---- win rate and pairs ----------------------------------------------------------------------

def test_pair_wins_count_ties_half_and_match_the_defence_battery():
    assert pair_wins([0.9, 0.5, 0.1, 0.7], [0.2, 0.5, 0.3, 0.7]).tolist() == [1, 0.5, 0, 0.5]
    ids = pd.Series(["C-fear-d1-1", "N-fear-d1-1", "C-fear-d1-2", "N-fear-d1-2",
                     "C-joy-d1-1", "N-joy-d1-1", "C-joy-d1-2"])  # the last has no neutral
    scores = np.array([0.9, 0.2, 0.5, 0.5, 0.1, 0.3, 0.99])
    assert pair_win_rate(ids, scores) == 0.5  # (1 + 0.5 + 0) / 3
    pairs = pa.matched_pairs(list(ids))
    assert pairs.upper.tolist() == [0, 2, 4] and pairs.lower.tolist() == [1, 3, 5]
    assert pairs.groups.tolist() == ["fear-d1-1", "fear-d1-2", "joy-d1-1"]
    assert float(np.mean(pair_wins(scores[pairs.upper], scores[pairs.lower]))) == 0.5
    moderate = pa.matched_pairs(["M-joy-d1-1", "N-joy-d1-1", "C-joy-d1-1"], "moderate")
    assert moderate.upper.tolist() == [0] and moderate.lower.tolist() == [1]


def test_pair_folds_follow_the_item_folds_and_refuse_a_split_pair():
    ids = _ids(2, "CN")
    folds = grouped_folds([scenario_of(i) for i in ids], n_folds=4)
    pairs = pa.matched_pairs(ids)
    pf = pa.pair_folds(folds, pairs)
    for (_, item_test), (_, pair_test) in zip(folds, pf, strict=True):
        assert sorted(pairs.upper[pair_test].tolist() + pairs.lower[pair_test].tolist()) == \
            sorted(item_test.tolist())
    bad = [(np.array([1, 2]), np.array([0])), (np.array([0]), np.array([1, 2]))]
    with pytest.raises(ValueError, match="grouped by scenario"):
        pa.pair_folds(bad, pa.Pairs(np.array([0]), np.array([1]), np.array(["s"])))


# ---- the bootstrap margin -------------------------------------------------------------------

def test_margin_is_the_mean_difference_with_a_seeded_interval_around_it():
    model = np.array([1, 1, 1, 1, 0.5, 1, 1, 0, 1, 1], float)
    base = np.array([1, 0, 1, 0, 0.5, 1, 0, 0, 1, 1], float)
    groups = np.array([f"s{k}" for k in range(10)])
    m = pa.margin(model, base, groups, seed=0)
    assert m.estimate == pytest.approx(0.3)  # (8.5 - 5.5) / 10
    # three differences of 1 among ten: a resampled mean is Binomial(10, 0.3) / 10, whose
    # 2.5% and 97.5% quantiles are 0.0 (P(0) = 0.028) and 0.6 (P(>= 7) = 0.011)
    assert (m.ci_low, m.ci_high) == (pytest.approx(0.0), pytest.approx(0.6))
    assert pa.margin(model, base, groups, seed=0) == m
    rng = np.random.default_rng(0)
    a, b = rng.random(40), rng.random(40) * 0.8
    g = np.array([f"s{k}" for k in range(40)])
    c = pa.margin(a, b, g, seed=0)
    assert c.estimate == pytest.approx(float(np.mean(a - b)))
    assert c.ci_low < c.estimate < c.ci_high
    assert pa.margin(a, b, g, seed=0) == c and pa.margin(a, b, g, seed=1) != c
    same = pa.margin(model, model, groups)
    assert (same.estimate, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0)


def test_margin_resamples_scenarios_whole():
    """Two pairs per scenario: the interval is the one of the scenario means (same seed, same
    draws), not the narrower one of pairs treated as independent."""
    rng = np.random.default_rng(0)
    per_scenario = rng.normal(size=20)
    diff = np.repeat(per_scenario, 2) + np.tile([0.1, -0.1], 20)
    groups = np.repeat([f"s{k}" for k in range(20)], 2)
    clustered = pa.margin(diff, np.zeros(40), groups, seed=0)
    means = pa.margin(per_scenario, np.zeros(20), groups[::2], seed=0)
    assert clustered.estimate == pytest.approx(means.estimate)
    assert (clustered.ci_low, clustered.ci_high) == (pytest.approx(means.ci_low),
                                                     pytest.approx(means.ci_high))
    naive = pa.margin(diff, np.zeros(40), np.array([f"p{k}" for k in range(40)]), seed=0)
    assert naive.ci_high - naive.ci_low < clustered.ci_high - clustered.ci_low


# ---- the difference probe --------------------------------------------------------------------

def _pair_data(n_pairs: int, signal: float, seed: int = 0) -> tuple[np.ndarray, pa.Pairs,
                                                                    list[tuple]]:
    """Pairs with large per-story offsets; the upper member is shifted by ``signal`` along a
    fixed direction (one direction separates every pair)."""
    rng = np.random.default_rng(seed)
    story = rng.normal(size=(n_pairs, 12)) * 4
    x = np.empty((2 * n_pairs, 12))
    x[0::2] = story + rng.normal(size=story.shape) * 0.5
    x[1::2] = story + rng.normal(size=story.shape) * 0.5
    x[0::2, 0] += signal
    pairs = pa.Pairs(np.arange(0, 2 * n_pairs, 2), np.arange(1, 2 * n_pairs, 2),
                     np.array([f"s{k}" for k in range(n_pairs)], dtype=object))
    folds = grouped_folds(np.repeat(pairs.groups, 2))
    return x, pairs, folds


def test_difference_probe_finds_a_pair_direction_and_not_noise():
    x, pairs, folds = _pair_data(120, signal=2.0)
    correct = pa.difference_probe(pa.identity_features(x), pairs, folds,
                                  lambda: pa.difference_logistic(0))
    assert correct.shape == (120,) and not np.isnan(correct).any()
    assert correct.mean() > 0.95
    # shuffled: the members of each pair drawn alike (no direction separates them). Flipping
    # which member counts as upper in a data set *with* a direction would not do: the flip
    # shares of training and test folds are anti-correlated, which pushes accuracy below 0.5
    x0, pairs0, folds0 = _pair_data(120, signal=0.0)
    chance = pa.difference_probe(pa.identity_features(x0), pairs0, folds0,
                                 lambda: pa.difference_logistic(0))
    assert 0.38 < chance.mean() < 0.62


def test_a_linear_probe_wins_within_pairs_where_story_content_sinks_its_auroc():
    """The issue's point in miniature: with strong story offsets the unpaired AUROC is near
    chance while the probe still orders almost every pair correctly."""
    ids = _ids(8, "CN")
    task = pa.paired_task(ids, "clinical")
    assert task.usable and len(task.pairs) == 64 and task.triples.shape == (0, 3)
    rng = np.random.default_rng(0)
    story = {s: rng.normal(size=16) * 6 for s in {scenario_of(i) for i in ids}}
    x = np.array([story[scenario_of(i)] + rng.normal(size=16) * 0.3
                  + (parse_id(i).split == "clinical") * np.eye(16)[0] * 1.5 for i in ids])
    scores, _ = task.probe(x)
    assert scores.win_rate > 0.9 and scores.difference_accuracy > 0.9
    assert scores.auroc < scores.win_rate - 0.15


# ---- the same folds as the unpaired probe and the baselines ----------------------------------

def test_paired_task_reproduces_the_unpaired_probe_and_tfidf_on_the_same_folds():
    ids = _ids(4)  # clinical, neutral and moderate: moderates are scored, never trained on
    task = pa.paired_task(ids, "clinical")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(ids), 10)) + np.array(
        [[{"clinical": 1.0, "moderate": 0.5, "neutral": 0.0}[parse_id(i).split]]
         for i in ids])
    cn = np.array([parse_id(i).split != "moderate" for i in ids])
    y = np.array([parse_id(i).split == "clinical" for i in ids], int)[cn]
    groups = np.array([scenario_of(i) for i in ids])[cn]
    probe, p = task.probe(x)
    assert probe.auroc == pytest.approx(pr.binary_auroc(x[cn], y, groups), abs=1e-9)
    assert not np.isnan(p).any()  # moderates scored out of fold
    texts = [f"{parse_id(i).split} story about {scenario_of(i).replace('-', ' ')} "
             f"{'and a loss' if parse_id(i).split == 'clinical' else ''}" for i in ids]
    tf, _ = task.tfidf(texts)
    words = np.array([len(t.split()) for t in texts], float)
    base = pr.baselines([t for t, k in zip(texts, cn, strict=True) if k], words[cn], y, groups)
    assert tf.auroc == pytest.approx(base["tfidf_auroc"], abs=1e-9)
    wc, _ = task.wordcount(words)
    assert wc.auroc == pytest.approx(base["wordcount_auroc"], abs=1e-9)
    assert tf.win_rate == 1.0 and wc.win_rate == 1.0  # the clinical texts are longer


# ---- dose response and Page's test ----------------------------------------------------------

def test_dose_response_counts_ordered_scenarios_and_wires_pages_test():
    from scipy.stats import page_trend_test

    triples = np.arange(30).reshape(10, 3)  # rows of neutral, moderate, clinical
    ordered = np.tile([0.1, 0.5, 0.9], 10)
    d = pa.dose_response(ordered, triples)
    assert d is not None and d.n_scenarios == 10 and d.ordered_rate == 1.0
    assert d.page_l == 14 * 10  # every block ranks (1, 2, 3): L = n * (1 + 4 + 9)
    assert d.page_p < 1e-3
    assert d.mean_score == pytest.approx({"neutral": 0.1, "moderate": 0.5, "clinical": 0.9})
    rng = np.random.default_rng(0)
    noisy = rng.random(30)
    d2 = pa.dose_response(noisy, triples)
    ref = page_trend_test(noisy[triples])
    assert (d2.page_l, d2.page_p) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))
    reversed_ = pa.dose_response(np.tile([0.9, 0.5, 0.1], 10), triples)
    assert reversed_.ordered_rate == 0.0 and reversed_.page_p > 0.99
    assert pa.dose_response(ordered[:3], triples[:1]) is None


def test_paired_task_builds_dose_triples_only_for_complete_scenarios():
    ids = _ids(1) + ["C-joy-d2-1", "N-joy-d2-1"]  # one scenario without a moderate
    task = pa.paired_task(ids, "clinical")
    assert len(task.triples) == len(EMOTIONS)
    for n_row, m_row, c_row in task.triples:
        assert [parse_id(task.ids[r]).split for r in (n_row, m_row, c_row)] == [
            "neutral", "moderate", "clinical"]
        assert len({scenario_of(task.ids[r]) for r in (n_row, m_row, c_row)}) == 1
    mod = pa.paired_task(ids, "moderate")
    assert set(mod.y.tolist()) == {0, 1} and len(mod.pairs) == len(EMOTIONS)


# ---- a whole run on a tiny in-process causal model ------------------------------------------

def test_analyze_probing_reports_paired_metrics(tmp_path, monkeypatch):
    from affect_battery.cli import main

    monkeypatch.setenv("AFFECT_BATTERY_CACHE", str(tmp_path / "cache"))
    model = save_tiny_llama_lm(tmp_path / "model")
    out = tmp_path / "run"
    assert main(["analyze", "--model", str(model), "--methods", "probing", "--max-items", "40",
                 "--permutations", "2", "--no-cache", "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    b = r["probing"]["binary"]["paired"]
    assert b["task"] == "clinical vs neutral" and b["n_pairs"] >= 5
    assert b["best_layer"] in (0, 1) and set(b["win_rate_by_layer"]) == {"0", "1"}
    for read_out in ("probe", "tfidf", "wordcount"):
        assert set(b[read_out]) == {"win_rate", "difference_accuracy", "auroc"}
        assert 0 <= b[read_out]["win_rate"] <= 1
    m = b["margin_vs_tfidf"]["win_rate"]
    assert m["estimate"] == pytest.approx(b["probe"]["win_rate"] - b["tfidf"]["win_rate"])
    assert m["ci_low"] <= m["estimate"] <= m["ci_high"]
    assert b["probe"]["auroc"] == pytest.approx(
        r["probing"]["binary"]["auroc_by_layer"][str(b["best_layer"])], abs=1e-4)
    assert b["tfidf"]["auroc"] == pytest.approx(
        r["probing"]["binary"]["baselines"]["tfidf_auroc"], abs=1e-9)
    assert "dose_response" in b and "page_p" in b["dose_response"]
    assert set(b["by_site"]) == {"resid", "attn", "mlp"}
    assert b["by_site"]["resid"]["win_rate"] == b["probe"]["win_rate"]
    assert "paired" in r["probing"]["moderate"]
    h = r["headline"]
    assert list(h)[:2] == ["binary_pair_win_rate", "binary_pair_layer"]  # paired first
    for key in ("binary_difference_probe_accuracy", "binary_tfidf_pair_win_rate",
                "binary_wordcount_pair_win_rate", "binary_pair_margin_vs_tfidf",
                "binary_pair_margin_ci_low", "binary_auroc_at_pair_layer",
                "moderate_pair_win_rate", "dose_ordered_rate", "binary_auroc_best"):
        assert key in h, key
    md = (out / "report.md").read_text()
    assert "### Within matched pairs" in md and "| clinical vs neutral |" in md
    assert f"**{b['probe']['win_rate']:.3f}**" in md
    assert md.index("### Within matched pairs") < md.index("### Unpaired")
    table = pd.read_csv(out / "probing_by_layer.csv")
    assert sorted(set(zip(table["site"], table["position"], strict=True))) == [
        ("attn", "final"), ("mlp", "final"), ("resid", "final"), ("resid", "mean")]
    for col in ("binary_pair_win_rate", "binary_difference_accuracy", "binary_margin_ci_low",
                "binary_tfidf_pair_win_rate", "moderate_pair_win_rate", "dose_ordered_rate"):
        assert col in table, col
    assert (out / "probing_by_layer.png").stat().st_size > 0

    from affect_battery.analyses.report import card_section

    card = card_section(r)
    assert "Within matched pairs" in card.split("- ")[0]  # the lead sentence comes first
    assert f"{h['binary_pair_win_rate']:.1%}" in card
