"""Steering with difference-of-means directions from matched pairs.

For a layer L, the affect direction is mean(clinical) - mean(neutral) of the residual stream at
the final token over matched pairs; emotion directions use one emotion's pairs. Adding
``strength * norm * unit_direction`` to the block's output at every position of neutral prompts
shifts the answer-label probabilities; ``norm`` is the mean residual norm at that layer, so
strengths are comparable across layers. Strength 0 leaves the computation untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from .hooks import Site, padding_side, replay_blocks, trace
from .inputs import final_logits, label_forward, model_device, tokenize
from .models import LoadedModel
from .prompts import Prompt
from .shared_prefix import CleanTails, edited_tail_pass

if TYPE_CHECKING:
    import torch


def direction(clinical: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    d = clinical.mean(axis=0) - neutral.mean(axis=0)
    return d / max(float(np.linalg.norm(d)), 1e-12)


def steered_logits(loaded: LoadedModel, prompts: Sequence[Prompt], layer: int,
                   vector: np.ndarray, strength: float, label_ids: Sequence[int],
                   batch_size: int = 16,
                   prefix: Sequence[dict[int, Any]] | CleanTails | None = None
                   ) -> np.ndarray:
    """Answer-label logits at the final token with ``strength * vector`` added after block L.

    ``prefix``: the clean block outputs of the same prompts and batches
    (:func:`~.capture.record_prefix`, blocks 0..L at least); blocks up to L are then replayed,
    not recomputed, with the same result (the vector is still added to block L's output).
    As :class:`~.shared_prefix.CleanTails`, the shared opening (steered too) runs once a batch.
    """
    import torch

    model = loaded.model
    device = model_device(model)
    vec = torch.as_tensor(vector, device=device)

    def add(_site: Site, h: torch.Tensor) -> torch.Tensor:
        return h + strength * vec.to(h.dtype)

    if isinstance(prefix, CleanTails):
        edit = (lambda: trace(model, [Site("resid", layer)], retain=False, edit=add)) \
            if strength != 0 else nullcontext
        return np.concatenate([
            final_logits(edited_tail_pass(loaded, prefix, b, edit, lambda k: k <= layer,
                                          opening_edited=strength != 0)[0], label_ids)
            for b in range(len(prefix.batches))])
    out = []
    with padding_side(loaded.tokenizer, "left"), \
            trace(model, [Site("resid", layer)], retain=False,
                  edit=add if strength != 0 else None):
        for b, i in enumerate(range(0, len(prompts), batch_size)):
            enc = tokenize(loaded.tokenizer, prompts[i:i + batch_size], device, model)
            replay = nullcontext() if prefix is None else replay_blocks(
                model, {k: v for k, v in prefix[b].items() if k <= layer})
            with replay:
                out.append(label_forward(model, enc, label_ids))
    return np.concatenate(out)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
