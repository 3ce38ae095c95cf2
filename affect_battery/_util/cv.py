"""Cross-validation shared by the defence battery and the analyses: one grouped-fold scheme,
one out-of-fold routine, and the pipelines both sides compare against.

Folds are grouped (by scenario, in practice) so a clinical item and its neutral, moderate and
keyword-rich versions never straddle train and test; a model can then never score by recognising
the story. The defence battery's TF-IDF figure and the probes' TF-IDF baseline are the same
computation only because they share this module. scikit-learn is imported lazily: the gate must
start fast and never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

N_FOLDS = 5
DEFAULT_SEED = 0

Folds = list[tuple[np.ndarray, np.ndarray]]


def grouped_folds(groups: Sequence[Any] | np.ndarray, n_folds: int = N_FOLDS,
                  seed: int = DEFAULT_SEED) -> Folds:
    """Deterministic grouped K-fold: shuffled groups dealt round-robin into folds.

    scikit-learn's ``GroupKFold`` balances fold sizes but is not seeded, and its
    ``StratifiedGroupKFold`` changes assignment across versions; ours depends only on ``seed``.

    >>> folds = grouped_folds(["a", "a", "b", "b", "c", "c"], n_folds=3)
    >>> sorted(len(test) for _, test in folds)
    [2, 2, 2]
    >>> all(set(train).isdisjoint(test) for train, test in folds)
    True
    """
    groups = np.asarray(groups)
    uniq = np.array(sorted(set(groups.tolist())))
    rng = np.random.default_rng(seed)
    rng.shuffle(uniq)
    fold_of = {g: i % n_folds for i, g in enumerate(uniq.tolist())}
    assignment = np.array([fold_of[g] for g in groups.tolist()])
    k = min(n_folds, len(uniq))
    return [(np.where(assignment != f)[0], np.where(assignment == f)[0]) for f in range(k)]


def out_of_fold_proba(make: Any, x: Any, y: np.ndarray, folds: Folds) -> np.ndarray:
    """Out-of-fold probabilities: P(second class) for binary ``y``, else an (n, classes) matrix.

    ``make()`` returns a fresh unfitted estimator per fold; ``x`` may be an array or a list of
    texts (for text pipelines).
    """
    classes = np.unique(y)
    multi = len(classes) > 2
    out = np.zeros((len(y), len(classes))) if multi else np.zeros(len(y))
    for train, test in folds:
        model = make()
        xtr = [x[i] for i in train] if isinstance(x, list) else x[train]
        xte = [x[i] for i in test] if isinstance(x, list) else x[test]
        model.fit(xtr, y[train])
        proba = model.predict_proba(xte)
        if multi:
            out[np.ix_(test, np.searchsorted(classes, model.classes_))] = proba
        else:
            out[test] = proba[:, list(model.classes_).index(classes[1])]
    return out


def pair_wins(upper: Any, lower: Any) -> np.ndarray:
    """Per matched pair: 1 where the upper member scores above the lower one, 0.5 on a tie, 0
    below. The battery's design is the matched pair, so the defence battery's TF-IDF pair win
    rate and the probes' paired metrics all count wins this one way.

    >>> pair_wins(np.array([0.9, 0.5, 0.1]), np.array([0.2, 0.5, 0.3])).tolist()
    [1.0, 0.5, 0.0]
    """
    a, b = np.asarray(upper, float), np.asarray(lower, float)
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))


def tfidf_pipeline(seed: int = DEFAULT_SEED) -> Any:
    """TF-IDF over word uni- and bigrams, then logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True),
                         LogisticRegression(max_iter=5000, C=1.0, random_state=seed))


def standardised_logistic(c: float = 1.0, seed: int = DEFAULT_SEED, max_iter: int = 3000
                          ) -> Any:
    """Standardise (fitted on the training fold only), then logistic regression.

    Serves both the word-count baseline and the activation probes.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter,
                                                              random_state=seed))


def wordcount_pipeline(seed: int = DEFAULT_SEED) -> Any:
    """Word count alone: the baseline any length difference between conditions would win."""
    return standardised_logistic(seed=seed, max_iter=100)
