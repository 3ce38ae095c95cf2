"""Steering with difference-of-means directions from matched pairs.

For a layer L, the affect direction is mean(clinical) - mean(neutral) of the residual stream at
the final token over matched pairs; emotion directions use one emotion's pairs. Adding
``strength * norm * unit_direction`` to the block's output at every position of neutral prompts
shifts the answer-label probabilities; ``norm`` is the mean residual norm at that layer, so
strengths are comparable across layers. Strength 0 leaves the computation untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .capture import final_only_kwargs, find_blocks, left_padding, sublayer, tokenize
from .prompts import Prompt


def direction(clinical: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    d = clinical.mean(axis=0) - neutral.mean(axis=0)
    return d / max(float(np.linalg.norm(d)), 1e-12)


def steered_logits(loaded: Any, prompts: Sequence[Prompt], layer: int, vector: np.ndarray,
                   strength: float, label_ids: Sequence[int], batch_size: int = 16
                   ) -> np.ndarray:
    """Answer-label logits at the final token with ``strength * vector`` added after block L."""
    import torch

    model = loaded.model
    device = next(model.parameters()).device
    blocks = find_blocks(model)
    vec = torch.as_tensor(vector, device=device)
    out = []

    def hook(_m: Any, _i: Any, output: Any) -> Any:
        if strength == 0:
            return output
        h = output[0] if isinstance(output, tuple) else output
        new = h + strength * vec.to(h.dtype)
        return (new, *output[1:]) if isinstance(output, tuple) else new

    handle = sublayer(blocks[layer], "resid").register_forward_hook(hook)
    try:
        with left_padding(loaded.tokenizer):
            for i in range(0, len(prompts), batch_size):
                enc = tokenize(loaded.tokenizer, prompts[i:i + batch_size], device, model)
                with torch.inference_mode():
                    logits = model(**enc["batch"], **final_only_kwargs(model)).logits
                out.append(logits[:, -1][:, list(label_ids)].float().cpu().numpy())
    finally:
        handle.remove()
    return np.concatenate(out)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
