"""Representational geometry of emotion: centroids, RSA against Plutchik's wheel, silhouettes.

The theory RDM puts adjacent petals of the wheel close and opposite ones far: the dissimilarity
of two emotions is their distance around the wheel (1 to 4 steps). RSA is Spearman's rho between
the model's centroid RDM (1 - cosine) and the theory RDM, with a permutation test over emotion
labels. Silhouettes (cosine) compare how strongly items cluster by emotion, by split and by
domain.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.constants import EMOTIONS


def wheel_rdm(emotions: tuple[str, ...] = EMOTIONS) -> np.ndarray:
    n = len(emotions)
    idx = np.arange(n)
    d = np.abs(idx[:, None] - idx[None, :])
    return np.minimum(d, n - d).astype(float)


def centroids(x: np.ndarray, labels: np.ndarray, order: tuple[str, ...] = EMOTIONS
              ) -> np.ndarray:
    return np.stack([x[labels == e].mean(axis=0) for e in order])


def cosine_matrix(c: np.ndarray) -> np.ndarray:
    n = c / np.linalg.norm(c, axis=1, keepdims=True).clip(min=1e-12)
    return n @ n.T


def rsa(model_rdm: np.ndarray, theory: np.ndarray, n_permutations: int = 5000, seed: int = 0
        ) -> dict[str, float]:
    from scipy.stats import spearmanr

    iu = np.triu_indices(len(theory), 1)
    rho = float(spearmanr(model_rdm[iu], theory[iu]).statistic)
    rng = np.random.default_rng(seed)
    null = np.empty(n_permutations)
    for k in range(n_permutations):
        p = rng.permutation(len(theory))
        null[k] = spearmanr(model_rdm[np.ix_(p, p)][iu], theory[iu]).statistic
    return {"rho": rho, "p_value": float((1 + np.sum(null >= rho)) / (1 + n_permutations)),
            "n_permutations": n_permutations, "null_mean": float(np.nanmean(null))}


def silhouettes(x: np.ndarray, groupings: dict[str, np.ndarray], n_permutations: int = 200,
                seed: int = 0) -> dict[str, dict[str, float]]:
    """Cosine silhouette for each labelling, with a label-permutation p-value."""
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    out = {}
    for name, labels in groupings.items():
        if len(np.unique(labels)) < 2:
            continue
        s = float(silhouette_score(x, labels, metric="cosine"))
        null = np.array([silhouette_score(x, rng.permutation(labels), metric="cosine")
                         for _ in range(n_permutations)])
        out[name] = {"silhouette": s, "p_value": float((1 + np.sum(null >= s))
                                                       / (1 + n_permutations)),
                     "null_mean": float(null.mean())}
    return out


def pca_2d(x: np.ndarray, seed: int = 0) -> tuple[np.ndarray, list[float]]:
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=seed)
    return pca.fit_transform(x), [float(v) for v in pca.explained_variance_ratio_]


def geometry(x: np.ndarray, emotions: np.ndarray, all_x: np.ndarray | None = None,
             groupings: dict[str, np.ndarray] | None = None, seed: int = 0) -> dict[str, Any]:
    """Centroids and RSA on clinical items; silhouettes on the items given in ``all_x``.

    ``seed`` draws both permutation nulls (RSA and silhouettes)."""
    c = centroids(x, emotions)
    cos = cosine_matrix(c - x.mean(axis=0))
    model_rdm = 1 - cos
    res = {"cosine": cos.round(4).tolist(), "emotions": list(EMOTIONS),
           "rsa": rsa(model_rdm, wheel_rdm(), seed=seed)}
    if all_x is not None and groupings:
        res["silhouette"] = silhouettes(all_x, groupings, seed=seed)
    return res
