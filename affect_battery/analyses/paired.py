"""Paired metrics: does a read-out put each clinical item above its *own* neutral control?

The battery is built of matched pairs: a clinical vignette and a neutral one telling the same
story with the same people, place and length, but no emotional event. An unpaired AUROC ranks
items of different stories against each other, and story content dominates a language model's
residual stream, so it understates what the model encodes about affect. Within a pair the
story is held fixed. For every binary clinical-vs-neutral (and moderate-vs-neutral) analysis
this module reports, per layer:

- the **pair win rate**: the share of pairs whose upper member (clinical or moderate) the
  out-of-fold probe scores above its own neutral, ties counted half (0.5 is chance);
- the **difference probe**: a logistic regression without intercept trained on the pairs'
  differences (upper minus neutral as the positive example, its negation as the negative),
  accuracy out of fold; without an intercept the two orientations of a pair are always
  classified oppositely, so accuracy is the share of held-out pairs on the right side;
- the same two figures for TF-IDF and word count on exactly the same folds, and the model's
  margin over TF-IDF with a bootstrap 95% interval that resamples scenarios;
- the unpaired AUROC beside them.

Folds are grouped by scenario (``_util.cv.grouped_folds``), so a pair's two members are always
held out together. For scenarios with a clinical, a moderate and a neutral version the
clinical-vs-neutral probe also scores the moderate item out of fold (it never trains on
moderates): the dose response is the share of scenarios ordered clinical > moderate > neutral,
with Page's L trend test over the scenarios.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._util.cv import (
    DEFAULT_SEED,
    Folds,
    grouped_folds,
    pair_wins,
    standardised_logistic,
    tfidf_pipeline,
    wordcount_pipeline,
)
from ..core.ids import parse_id, scenario_of, sibling_id

N_BOOTSTRAP = 2000
"""Bootstrap resamples of scenarios for the margin's 95% interval."""
CHANCE = 0.5

Features = Any  # an activation matrix or a list of texts, indexed by row
Featurizer = Callable[[np.ndarray], Callable[[np.ndarray], Any]]
"""Given the training rows of a fold, returns a transform of rows into a feature matrix."""


# ---- pairs and folds -------------------------------------------------------------------------

@dataclass(frozen=True)
class Pairs:
    """Matched pairs among the rows of an analysis: row indices of each pair's members."""

    upper: np.ndarray  # the clinical (or moderate) member's row
    lower: np.ndarray  # its neutral's row
    groups: np.ndarray  # the pair's scenario

    def __len__(self) -> int:
        return len(self.upper)


def matched_pairs(ids: Sequence[str], upper: str = "clinical") -> Pairs:
    """Every ``upper``-split item whose matched neutral is among ``ids``, as row pairs."""
    row = {item: k for k, item in enumerate(ids)}
    up, lo = [], []
    for k, item in enumerate(ids):
        if parse_id(item).split == upper and sibling_id(item, "neutral") in row:
            up.append(k)
            lo.append(row[sibling_id(item, "neutral")])
    return Pairs(np.array(up, int), np.array(lo, int),
                 np.array([scenario_of(ids[k]) for k in up], dtype=object))


def pair_folds(folds: Folds, pairs: Pairs) -> Folds:
    """The item folds restated over pairs (a pair sits in the fold of its scenario)."""
    fold_of = np.full(max((int(t.max()) + 1 for _, t in folds if len(t)), default=0), -1)
    for f, (_, test) in enumerate(folds):
        fold_of[test] = f
    pf = fold_of[pairs.upper]
    if not np.array_equal(pf, fold_of[pairs.lower]):
        raise ValueError("folds split a matched pair: they must be grouped by scenario")
    out = [(np.where(pf != f)[0], np.where(pf == f)[0]) for f in range(len(folds))]
    return [(tr, te) for tr, te in out if len(tr) and len(te)]


def _take(x: Features, rows: np.ndarray) -> Any:
    return [x[i] for i in rows] if isinstance(x, list) else x[rows]


# ---- scores ----------------------------------------------------------------------------------

def held_out_scores(make: Callable[[], Any], x: Features, y: np.ndarray, trained: np.ndarray,
                    folds: Folds) -> np.ndarray:
    """P(upper) of every row from the model whose training folds exclude the row's scenario.

    Only rows with ``trained`` enter training (clinical and neutral); the others (moderate
    items) are scored out of fold but never learnt from. On the trained rows this equals
    ``_util.cv.out_of_fold_proba`` on those rows alone with the same folds.
    """
    out = np.full(len(y), np.nan)
    for train, test in folds:
        tr = train[trained[train]]
        model = make().fit(_take(x, tr), y[tr])
        out[test] = model.predict_proba(_take(x, test))[:, list(model.classes_).index(1)]
    return out


def difference_logistic(seed: int = DEFAULT_SEED, scale: bool = True) -> Any:
    """The difference probe: logistic regression without intercept (and, for activations and
    word counts, scaled without centring), so a pair's two orientations get opposite labels."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    lr = LogisticRegression(C=1.0, fit_intercept=False, max_iter=5000, random_state=seed)
    return make_pipeline(StandardScaler(with_mean=False), lr) if scale else lr


def identity_features(x: np.ndarray) -> Featurizer:
    """Activations (or word counts) are their own features: nothing is fitted per fold."""
    return lambda _train: lambda rows: x[rows]


def tfidf_features(texts: list[str]) -> Featurizer:
    """TF-IDF fitted on the training fold's texts only (the baseline pipeline's vectoriser)."""

    def fit(train: np.ndarray) -> Callable[[np.ndarray], Any]:
        vec = tfidf_pipeline()[0].fit([texts[i] for i in train])
        return lambda rows: vec.transform([texts[i] for i in rows])

    return fit


def difference_probe(featurize: Featurizer, pairs: Pairs, folds: Folds,
                     make: Callable[[], Any]) -> np.ndarray:
    """Per pair, out of fold: 1 if the difference probe puts (upper - lower) on the upper side,
    0.5 on the boundary, 0 otherwise (NaN for a pair in no usable fold)."""
    from scipy import sparse

    correct = np.full(len(pairs), np.nan)
    for train, test in pair_folds(folds, pairs):
        f = featurize(np.concatenate([pairs.upper[train], pairs.lower[train]]))
        d = f(pairs.upper[train]) - f(pairs.lower[train])
        stack = sparse.vstack if sparse.issparse(d) else np.vstack
        model = make().fit(stack([d, -d]), np.r_[np.ones(len(train)), np.zeros(len(train))])
        s = model.decision_function(f(pairs.upper[test]) - f(pairs.lower[test]))
        correct[test] = pair_wins(s, np.zeros_like(s))
    return correct


# ---- the margin over a baseline ---------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile bootstrap 95% interval."""

    estimate: float
    ci_low: float
    ci_high: float


def margin(model: np.ndarray, baseline: np.ndarray, groups: np.ndarray,
           n_resamples: int = N_BOOTSTRAP, seed: int = DEFAULT_SEED) -> Interval:
    """Mean of ``model - baseline`` over pairs, with a 95% interval resampling scenarios.

    Pairs are summed per scenario first and the statistic is the ratio of summed differences
    to summed pair counts, so a scenario with several pairs is resampled whole (a cluster
    bootstrap; with one pair per scenario it is the ordinary paired bootstrap). Percentile
    intervals: BCa degenerates on win indicators where most differences are 0.
    """
    from scipy.stats import bootstrap

    ok = ~(np.isnan(model) | np.isnan(baseline))
    diff, g = (model - baseline)[ok], np.asarray(groups)[ok]
    if not len(diff):
        return Interval(float("nan"), float("nan"), float("nan"))
    uniq, inv = np.unique(g.astype(str), return_inverse=True)
    sums = np.bincount(inv, weights=diff, minlength=len(uniq))
    counts = np.bincount(inv, minlength=len(uniq)).astype(float)
    point = float(sums.sum() / counts.sum())
    if len(uniq) < 2 or np.ptp(diff) == 0:
        return Interval(point, point, point)
    res = bootstrap((sums, counts), lambda s, c, axis=-1: s.sum(axis) / c.sum(axis),
                    paired=True, vectorized=True, n_resamples=n_resamples,
                    confidence_level=0.95, method="percentile",
                    rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return Interval(point, float(ci.low), float(ci.high))


# ---- one feature set on one task ------------------------------------------------------------

@dataclass(frozen=True)
class PairedScores:
    """One read-out's paired and unpaired figures on one task (per-pair arrays kept for the
    margins; ``to_dict`` drops them)."""

    win_rate: float
    difference_accuracy: float
    auroc: float
    wins: np.ndarray = field(repr=False)
    difference_correct: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, float]:
        return {"win_rate": self.win_rate, "difference_accuracy": self.difference_accuracy,
                "auroc": self.auroc}


def _nanmean(a: np.ndarray) -> float:
    return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")


def _auroc(y: np.ndarray, p: np.ndarray, trained: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    yt, pt = y[trained], p[trained]
    return float(roc_auc_score(yt, pt)) if len(np.unique(yt)) == 2 else float("nan")


# ---- a task: upper split vs neutral over the same rows and folds ------------------------------

@dataclass(frozen=True)
class PairedTask:
    """Rows of one binary task (upper split vs neutral, plus any moderates to score), its
    labels, its scenario folds and its pairs; every read-out on it shares the folds.

    ``y`` is 1 for the upper split, 0 for neutral and -1 for rows scored but never trained on
    (moderate items in the clinical task, for the dose response).
    """

    ids: list[str]
    y: np.ndarray
    folds: Folds
    pairs: Pairs
    triples: np.ndarray  # (n, 3) rows of neutral, moderate, clinical of complete scenarios
    seed: int = DEFAULT_SEED

    @property
    def trained(self) -> np.ndarray:
        return self.y >= 0

    @property
    def usable(self) -> bool:
        return (len(np.unique(self.y[self.trained])) == 2 and len(self.folds) >= 2
                and len(set(self.pairs.groups.tolist())) >= 5)

    def scores(self, make: Callable[[], Any], x: Features) -> np.ndarray:
        return held_out_scores(make, x, np.where(self.trained, self.y, 0), self.trained,
                               self.folds)

    def evaluate(self, make: Callable[[], Any], x: Features, featurize: Featurizer,
                 make_diff: Callable[[], Any]) -> tuple[PairedScores, np.ndarray]:
        """(paired figures, held-out scores of every row) of one read-out."""
        p = self.scores(make, x)
        wins = pair_wins(p[self.pairs.upper], p[self.pairs.lower])
        correct = difference_probe(featurize, self.pairs, self.folds, make_diff)
        return PairedScores(_nanmean(wins), _nanmean(correct), _auroc(self.y, p, self.trained),
                            wins, correct), p

    def probe(self, x: np.ndarray) -> tuple[PairedScores, np.ndarray]:
        """The activation probe (the probing step's pipeline) and its difference probe."""
        seed = self.seed
        return self.evaluate(lambda: standardised_logistic(seed=seed), x,
                             identity_features(x), lambda: difference_logistic(seed))

    def tfidf(self, texts: list[str]) -> tuple[PairedScores, np.ndarray]:
        seed = self.seed
        return self.evaluate(lambda: tfidf_pipeline(seed), texts, tfidf_features(texts),
                             lambda: difference_logistic(seed, scale=False))

    def wordcount(self, word_counts: np.ndarray) -> tuple[PairedScores, np.ndarray]:
        seed, wc = self.seed, np.asarray(word_counts, float).reshape(-1, 1)
        return self.evaluate(lambda: wordcount_pipeline(seed), wc, identity_features(wc),
                             lambda: difference_logistic(seed))

    def margin(self, model: PairedScores, baseline: PairedScores) -> dict[str, Interval]:
        g = self.pairs.groups
        return {"win_rate": margin(model.wins, baseline.wins, g, seed=self.seed),
                "difference_accuracy": margin(model.difference_correct,
                                              baseline.difference_correct, g, seed=self.seed)}


def paired_task(ids: Sequence[str], upper: str = "clinical",
                seed: int = DEFAULT_SEED) -> PairedTask:
    """The task ``upper`` vs neutral over the given item ids (other splits are dropped, except
    moderates in the clinical task: scored for the dose response, never trained on)."""
    rows = [i for i in ids if parse_id(i).split in (upper, "neutral")]
    if upper == "clinical":  # moderates of scenarios in the task: the folds stay the same
        scenarios = {scenario_of(i) for i in rows}
        rows += [i for i in ids if parse_id(i).split == "moderate" and scenario_of(i) in scenarios]
        order = {item: k for k, item in enumerate(ids)}
        rows.sort(key=order.__getitem__)
    split = [parse_id(i).split for i in rows]
    y = np.array([1 if s == upper else 0 if s == "neutral" else -1 for s in split], int)
    folds = grouped_folds([scenario_of(i) for i in rows], seed=seed)
    row = {item: k for k, item in enumerate(rows)}
    triples = [(row[sibling_id(i, "neutral")], row[sibling_id(i, "moderate")], row[i])
               for i in rows if parse_id(i).split == "clinical" and upper == "clinical"
               and sibling_id(i, "neutral") in row and sibling_id(i, "moderate") in row]
    return PairedTask(rows, y, folds, matched_pairs(rows, upper),
                      np.array(triples, int).reshape(-1, 3), seed)


# ---- dose response ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DoseResponse:
    """Clinical > moderate > neutral within scenario, scored by the clinical-vs-neutral probe
    out of fold. ``ordered_rate``: share of scenarios strictly ordered (chance 1/6); Page's L
    over the scenarios as blocks and (neutral, moderate, clinical) as the predicted order."""

    n_scenarios: int
    ordered_rate: float
    page_l: float
    page_p: float
    mean_score: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dose_response(scores: np.ndarray, triples: np.ndarray) -> DoseResponse | None:
    """The dose response of held-out scores over (neutral, moderate, clinical) row triples."""
    from scipy.stats import page_trend_test

    if len(triples) < 2:
        return None
    s = scores[triples]  # (n, 3): neutral, moderate, clinical
    ordered = float(np.mean((s[:, 2] > s[:, 1]) & (s[:, 1] > s[:, 0])))
    res = page_trend_test(s)
    return DoseResponse(len(triples), ordered, float(res.statistic), float(res.pvalue),
                        {k: float(v) for k, v in zip(("neutral", "moderate", "clinical"),
                                                      s.mean(axis=0), strict=True)})


# ---- the probing step's view: one task, its text baselines, per-layer rows, a summary ----------

@dataclass(frozen=True)
class PairedSummary:
    """The ``paired`` block of a binary probing section in results.json.

    ``best_layer`` is chosen by the pair win rate (then difference-probe accuracy, then AUROC,
    then the earlier layer); the interval at that layer does not allow for the choice.
    """

    task: str
    n_pairs: int
    n_scenarios: int
    best_layer: int
    probe: dict[str, float]
    tfidf: dict[str, float]
    wordcount: dict[str, float]
    margin_vs_tfidf: dict[str, Interval]
    margin_vs_wordcount: dict[str, Interval]
    win_rate_by_layer: dict[int, float]
    difference_accuracy_by_layer: dict[int, float]
    auroc_by_layer: dict[int, float]
    margin_vs_tfidf_by_layer: dict[int, Interval]
    chance: float = CHANCE
    bootstrap: str = (f"{N_BOOTSTRAP} resamples of scenarios, percentile 95% interval, "
                      "seeded by the run's seed")
    dose_response: DoseResponse | None = None
    tfidf_dose_response: DoseResponse | None = None
    dose_ordered_rate_by_layer: dict[int, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.dose_response is None:
            for key in ("dose_response", "tfidf_dose_response", "dose_ordered_rate_by_layer"):
                del out[key]
        return out


@dataclass(frozen=True)
class PairedProbing:
    """One paired task with its TF-IDF and word-count read-outs, which do not depend on the
    layer and are computed once on the task's folds."""

    prefix: str  # column prefix of the probing table: "binary" or "moderate"
    task: PairedTask
    tfidf: PairedScores
    wordcount: PairedScores
    tfidf_scores: np.ndarray

    @classmethod
    def build(cls, prefix: str, ids: Sequence[str], texts: dict[str, str],
              word_counts: dict[str, float], upper: str, seed: int = DEFAULT_SEED
              ) -> PairedProbing | None:
        """None when the items hold too few complete pairs (fewer than five scenarios)."""
        task = paired_task(ids, upper, seed)
        if not task.usable:
            return None
        tf, tf_scores = task.tfidf([texts[i] for i in task.ids])
        wc, _ = task.wordcount(np.array([word_counts[i] for i in task.ids], float))
        return cls(prefix, task, tf, wc, tf_scores)

    def row(self, x: np.ndarray) -> dict[str, float]:
        """One layer's columns of the probing table; ``x`` holds the task's rows in order."""
        probe, p = self.task.probe(x)
        m = margin(probe.wins, self.tfidf.wins, self.task.pairs.groups, seed=self.task.seed)
        k = self.prefix
        row = {f"{k}_auroc": probe.auroc, f"{k}_pair_win_rate": probe.win_rate,
               f"{k}_difference_accuracy": probe.difference_accuracy,
               f"{k}_margin_vs_tfidf": m.estimate, f"{k}_margin_ci_low": m.ci_low,
               f"{k}_margin_ci_high": m.ci_high,
               f"{k}_tfidf_pair_win_rate": self.tfidf.win_rate,
               f"{k}_wordcount_pair_win_rate": self.wordcount.win_rate}
        dose = dose_response(p, self.task.triples)
        if dose is not None:
            row["dose_ordered_rate"] = dose.ordered_rate
            row["dose_page_p"] = dose.page_p
        return row

    def best_layer(self, table: Any) -> int:
        """The layer of the highest win rate (ties: difference accuracy, AUROC, earlier)."""
        k = self.prefix
        order = table.sort_values([f"{k}_pair_win_rate", f"{k}_difference_accuracy",
                                   f"{k}_auroc", "layer"],
                                  ascending=[False, False, False, True])
        return int(order["layer"].iloc[0])

    def summary(self, table: Any, x_at: Callable[[int], np.ndarray], task: str
                ) -> PairedSummary:
        """The summary over one position's rows of the probing table; ``x_at(layer)`` gives
        the task's rows at a layer (the best layer is scored again to keep per-pair wins)."""
        k, t = self.prefix, self.task
        best = self.best_layer(table)
        probe, p = t.probe(x_at(best))

        def by_layer(col: str) -> dict[int, float]:
            return {int(r["layer"]): round(float(r[col]), 4) for _, r in table.iterrows()}

        return PairedSummary(
            task=task, n_pairs=len(t.pairs), n_scenarios=len(set(t.pairs.groups.tolist())),
            best_layer=best, probe=probe.to_dict(), tfidf=self.tfidf.to_dict(),
            wordcount=self.wordcount.to_dict(), margin_vs_tfidf=t.margin(probe, self.tfidf),
            margin_vs_wordcount=t.margin(probe, self.wordcount),
            win_rate_by_layer=by_layer(f"{k}_pair_win_rate"),
            difference_accuracy_by_layer=by_layer(f"{k}_difference_accuracy"),
            auroc_by_layer=by_layer(f"{k}_auroc"),
            margin_vs_tfidf_by_layer={
                int(r["layer"]): Interval(round(float(r[f"{k}_margin_vs_tfidf"]), 4),
                                          round(float(r[f"{k}_margin_ci_low"]), 4),
                                          round(float(r[f"{k}_margin_ci_high"]), 4))
                for _, r in table.iterrows()},
            dose_response=dose_response(p, t.triples),
            tfidf_dose_response=dose_response(self.tfidf_scores, t.triples),
            dose_ordered_rate_by_layer=by_layer("dose_ordered_rate")
            if "dose_ordered_rate" in table else None)
