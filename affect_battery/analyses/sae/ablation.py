"""Causal check of SAE latents: ablate them inside the model and read the answer logits.

At the SAE's site, at every position, the activation is rebuilt with the chosen latents set
to zero (zero ablation) or to their mean over the battery's tokens (mean ablation) and the
SAE's error term kept (:meth:`~.topk.SparseAutoencoder.edit_latents`), so only those latents'
contribution changes. The edit goes through :func:`~..hooks.trace`, the one hook primitive.
A matched control ablates as many random latents, each drawn among the latents that fire about
as often as the one it stands for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..hooks import Site, padding_side, trace
from ..inputs import final_logits, final_only_kwargs, model_device, tokenize
from ..models import LoadedModel
from ..prompts import Prompt
from .topk import SparseAutoencoder

if TYPE_CHECKING:
    import torch


def ablated_label_logits(loaded: LoadedModel, prompts: Sequence[Prompt],
                         sae: SparseAutoencoder, site: Site, latents: Sequence[int],
                         values: np.ndarray | float, label_ids: Sequence[int],
                         batch_size: int = 16) -> np.ndarray:
    """Final-token logits of the answer labels with ``latents`` set to ``values`` at
    ``site`` (per latent, or one number); no latents: the model's own logits."""
    import torch

    model = loaded.model
    device = model_device(model)
    sae.to(device)
    vals = torch.as_tensor(np.asarray(values, np.float32), device=device)
    chosen = [int(j) for j in latents]

    def edit(_site: Site, h: torch.Tensor) -> torch.Tensor:
        return sae.edit_latents(h, chosen, vals) if chosen else h

    out = []
    with padding_side(loaded.tokenizer, "left"):
        for i in range(0, len(prompts), batch_size):
            enc = tokenize(loaded.tokenizer, prompts[i:i + batch_size], device, model)
            with trace(model, [site] if chosen else [], retain=False, edit=edit), \
                    torch.inference_mode():
                output = model(**enc.batch, **final_only_kwargs(model))
            out.append(final_logits(output, label_ids))
    return np.concatenate(out) if out else np.zeros((0, len(label_ids)), np.float32)


def matched_random(top: Sequence[int], frequency: np.ndarray, seed: int, draws: int,
                   pool: int = 20) -> list[list[int]]:
    """``draws`` sets of random latents, one per latent of ``top``: drawn among the ``pool``
    latents (outside ``top``, firing at all) whose firing frequency is nearest to it."""
    rng = np.random.default_rng(seed)
    top_set = set(int(t) for t in top)
    cands = np.array([j for j in np.flatnonzero(frequency > 0) if int(j) not in top_set])
    if cands.size == 0:
        return []
    sets = []
    for _ in range(draws):
        chosen: list[int] = []
        for t in top:
            near = cands[np.argsort(np.abs(frequency[cands] - frequency[t]), kind="stable")]
            near = [c for c in near if int(c) not in chosen][:pool]
            if near:
                chosen.append(int(rng.choice(near)))
        sets.append(chosen)
    return sets
