"""Knockout: ablate one layer's attention or MLP output and watch the emotion signal drop.

Three ablations of the sublayer's output at every position: ``zero``; ``mean`` (the output's
mean over all tokens of a reference set of prompts); ``resample`` (each row takes another row's
output, prompts right-aligned by left padding so positions correspond). Effects are measured on
the logit difference between the intended emotion's answer label and "none" at the final token,
and on a frozen probe's clinical-vs-neutral AUROC at a read-out layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .capture import final_only_kwargs, find_blocks, last_token_index, sublayer, tokenize
from .prompts import Prompt

METHODS = ("zero", "mean", "resample")


def site_means(loaded: Any, prompts: Sequence[Prompt], sites: Sequence[tuple[str, int]],
               batch_size: int = 16) -> dict[tuple[str, int], np.ndarray]:
    """Mean output of each site over every attended token of the prompts."""
    import torch

    model = loaded.model
    device = next(model.parameters()).device
    blocks = find_blocks(model)
    sums: dict[tuple[str, int], Any] = {}
    count = 0
    ctx: dict[str, Any] = {}

    def make_hook(site: tuple[str, int]):
        def hook(_m: Any, _i: Any, output: Any) -> None:
            h = output[0] if isinstance(output, tuple) else output
            m = ctx["mask"].unsqueeze(-1).to(h.dtype)
            s = (h * m).sum((0, 1)).float().cpu()
            sums[site] = sums.get(site, 0) + s
        return hook
    handles = [sublayer(blocks[layer], kind).register_forward_hook(make_hook((kind, layer)))
               for kind, layer in sites]
    try:
        for i in range(0, len(prompts), batch_size):
            enc = tokenize(loaded.tokenizer, prompts[i:i + batch_size], device, model)
            ctx["mask"] = enc["batch"]["attention_mask"]
            count += int(ctx["mask"].sum())
            with torch.inference_mode():
                model(**enc["batch"], **final_only_kwargs(model))
    finally:
        for h in handles:
            h.remove()
    return {site: (s / max(count, 1)).numpy() for site, s in sums.items()}


def ablated_run(loaded: Any, prompts: Sequence[Prompt], site: tuple[str, int], method: str,
                label_ids: Sequence[int], readout: tuple[str, int] | None = None,
                mean: np.ndarray | None = None, batch_size: int = 16, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """(answer-label logits at the final token, read-out activations) under one ablation."""
    import torch

    model, tok = loaded.model, loaded.tokenizer
    device = next(model.parameters()).device
    blocks = find_blocks(model)
    gen = torch.Generator().manual_seed(seed)
    logits_out, read_out = [], []
    ctx: dict[str, Any] = {}

    def ablate(_m: Any, _i: Any, output: Any) -> Any:
        h = output[0] if isinstance(output, tuple) else output
        if method == "zero":
            new = torch.zeros_like(h)
        elif method == "mean":
            new = torch.as_tensor(mean, device=h.device, dtype=h.dtype).expand_as(h).clone()
        elif method == "resample":
            perm = torch.randperm(h.shape[0], generator=gen).to(h.device)
            new = h[perm].clone()
        else:
            raise ValueError(f"unknown ablation {method!r}: use one of {', '.join(METHODS)}")
        return (new, *output[1:]) if isinstance(output, tuple) else new

    def read(_m: Any, _i: Any, output: Any) -> None:
        h = output[0] if isinstance(output, tuple) else output
        rows = torch.arange(h.shape[0], device=h.device)
        ctx["read"] = h[rows, ctx["last"]].float().cpu().numpy()

    side = tok.padding_side
    tok.padding_side = "left"  # right-aligned prompts make resampled positions correspond
    handles = [sublayer(blocks[site[1]], site[0]).register_forward_hook(ablate)]
    if readout is not None:
        handles.append(sublayer(blocks[readout[1]], readout[0]).register_forward_hook(read))
    try:
        for i in range(0, len(prompts), batch_size):
            enc = tokenize(tok, prompts[i:i + batch_size], device, model)
            mask = enc["batch"]["attention_mask"]
            ctx["last"] = last_token_index(mask)
            with torch.inference_mode():
                out = model(**enc["batch"], **final_only_kwargs(model))
            if hasattr(out, "logits"):  # left-padded: the final token is last
                logits_out.append(out.logits[:, -1][:, list(label_ids)].float().cpu().numpy())
            if readout is not None:
                read_out.append(ctx["read"])
    finally:
        for h in handles:
            h.remove()
        tok.padding_side = side
    logits = np.concatenate(logits_out) if logits_out else np.zeros((len(prompts), 0))
    return logits, (np.concatenate(read_out) if readout is not None else None)


def critical_layers(drops: dict[int, float], top: int = 3) -> list[int]:
    """Layers whose ablation lowers the signal most (positive drops only)."""
    ranked = sorted(((d, layer) for layer, d in drops.items() if d > 0), reverse=True)
    return [layer for _, layer in ranked[:top]]
