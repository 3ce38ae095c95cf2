"""Linear probes on captured activations, with baselines on the same folds.

Standardisation happens inside the pipeline (fitted on training folds only), and folds are
grouped by scenario: a clinical item and its neutral, moderate and keyword-rich versions always
fall in the same fold, so a probe can never score by recognising the story. The same folds serve
the two baselines (TF-IDF on the raw text, word count alone) and the label-permutation null.
One ``seed`` fixes the folds, the estimators and the null; ``seed=0`` gives the published
figures. The within-pair figures (pair win rate, difference probe, margin over TF-IDF, dose
response) are in :mod:`.paired`, on the same folds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._util.cv import (
    DEFAULT_SEED,
    grouped_folds,
    out_of_fold_proba,
    standardised_logistic,
    tfidf_pipeline,
    wordcount_pipeline,
)


def probe_pipeline(c: float = 1.0, seed: int = DEFAULT_SEED) -> Any:
    """The probe: standardised activations, logistic regression (fitted per training fold)."""
    return standardised_logistic(c=c, seed=seed)


Factory = Callable[..., Any]  # seed -> a fresh unfitted estimator


def binary_auroc(x: Any, y: np.ndarray, groups: np.ndarray, make: Factory = probe_pipeline,
                 seed: int = DEFAULT_SEED) -> float:
    """Out-of-fold AUROC on folds grouped by ``groups``; ``x`` is an array or a text list."""
    from sklearn.metrics import roc_auc_score

    proba = out_of_fold_proba(lambda: make(seed=seed), x, y, grouped_folds(groups, seed=seed))
    return float(roc_auroc_safe(roc_auc_score, y, proba))


def roc_auroc_safe(fn: Any, y: np.ndarray, p: np.ndarray) -> float:
    return float(fn(y, p)) if len(np.unique(y)) == 2 else float("nan")


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Binary AUROC of scores ``p``; NaN when ``y`` holds one class."""
    from sklearn.metrics import roc_auc_score

    return roc_auroc_safe(roc_auc_score, y, p)


def multiclass_scores(x: Any, y: np.ndarray, groups: np.ndarray, make: Factory = probe_pipeline,
                      seed: int = DEFAULT_SEED) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    classes = np.unique(y)
    p = out_of_fold_proba(lambda: make(seed=seed), x, y, grouped_folds(groups, seed=seed))
    return {"macro_auroc": float(roc_auc_score(y, p, multi_class="ovr", average="macro",
                                               labels=classes)),
            "accuracy": float(accuracy_score(y, classes[p.argmax(axis=1)])),
            "chance": 1 / len(classes)}


def transfer_proba(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                   seed: int = DEFAULT_SEED) -> np.ndarray:
    """P(label 1) of the test items under a binary probe trained on another condition (the
    scores :func:`transfer` ranks, kept so pairs can be compared within scenario)."""
    model = probe_pipeline(seed=seed).fit(x_train, y_train)
    return model.predict_proba(x_test)[:, list(model.classes_).index(1)]


def transfer(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
             seed: int = DEFAULT_SEED) -> dict[str, float]:
    """Train on one condition (keyword_rich), test on another (clinical).

    On a subset the two conditions may not cover the same emotions: the macro AUROC is taken
    over the test items whose emotion the probe was trained on and the trained emotions the
    test items show (scores renormalised over those); accuracy counts every test item.
    """
    from sklearn.metrics import accuracy_score, roc_auc_score

    model = probe_pipeline(seed=seed).fit(x_train, y_train)
    p = model.predict_proba(x_test)
    classes = model.classes_
    if len(classes) == 2:
        return {"auroc": float(roc_auc_score(y_test == classes[1], p[:, 1])),
                "accuracy": float(accuracy_score(y_test, classes[p.argmax(axis=1)]))}
    present = np.isin(classes, np.unique(y_test))
    seen = np.isin(y_test, classes)
    scores = p[:, present]
    if not present.all():
        scores = scores / scores.sum(axis=1, keepdims=True)
    return {"macro_auroc": float(roc_auc_score(y_test[seen], scores[seen], multi_class="ovr",
                                               average="macro", labels=classes[present]))
            if present.sum() > 2 else float("nan"),
            "accuracy": float(accuracy_score(y_test, classes[p.argmax(axis=1)])),
            "chance": 1 / len(classes)}


def permutation_null(x: np.ndarray, y: np.ndarray, groups: np.ndarray, observed: float,
                     n_permutations: int = 20, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Binary AUROC under labels permuted between scenarios (pairs keep their structure).

    Labels are shuffled at the level of groups' items so the null keeps the grouping; the
    p-value is (1 + #null >= observed) / (1 + n).
    """
    rng = np.random.default_rng(seed)
    null = []
    for _ in range(n_permutations):
        y_perm = y.copy()
        for g in np.unique(groups):
            idx = np.where(groups == g)[0]
            if rng.random() < 0.5:
                y_perm[idx] = 1 - y[idx]  # swap clinical/neutral inside the scenario
        null.append(binary_auroc(x, y_perm, groups, seed=seed))
    null_arr = np.array(null)
    return {"n_permutations": n_permutations, "null_mean": float(null_arr.mean()),
            "null_max": float(null_arr.max()),
            "p_value": float((1 + np.sum(null_arr >= observed)) / (1 + n_permutations))}


def baselines(texts: list[str], word_counts: np.ndarray, y: np.ndarray, groups: np.ndarray,
              multiclass: bool = False, seed: int = DEFAULT_SEED) -> dict[str, float]:
    """TF-IDF and word-count models on exactly the probe's folds."""
    if multiclass:
        tf = multiclass_scores(texts, y, groups, tfidf_pipeline, seed)
        wc = multiclass_scores(word_counts.reshape(-1, 1), y, groups, wordcount_pipeline, seed)
        return {"tfidf_macro_auroc": tf["macro_auroc"], "tfidf_accuracy": tf["accuracy"],
                "wordcount_macro_auroc": wc["macro_auroc"], "wordcount_accuracy": wc["accuracy"]}
    return {"tfidf_auroc": binary_auroc(texts, y, groups, tfidf_pipeline, seed),
            "wordcount_auroc": binary_auroc(word_counts.reshape(-1, 1), y, groups,
                                            wordcount_pipeline, seed)}
