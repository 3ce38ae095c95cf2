"""Exact activation patching and attribution patching at the final position.

Exact: run the target prompt with one site's final-token activation replaced by the source
prompt's, and read the logit difference between the source's and the target's answer labels.
Attribution: one forward and one backward pass on the target give, for every site at once, the
first-order estimate grad(LD) . (a_source - a_target) of the same quantity. Both are scored per
pair; their agreement (Pearson, Spearman) per site kind is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .capture import (
    final_only_kwargs,
    find_blocks,
    last_token_index,
    left_padding,
    sublayer,
    tokenize,
)
from .prompts import Prompt


@dataclass
class PatchPairs:
    """Target prompts, source prompts, and the answer-label indices that score each pair."""

    name: str
    source_ids: list[str]
    target_ids: list[str]
    sources: list[Prompt]
    targets: list[Prompt]
    source_label: np.ndarray  # index into the label-token list
    target_label: np.ndarray


def _replace_final(output: Any, rows: Any, last: Any, values: Any) -> Any:
    h = output[0] if isinstance(output, tuple) else output
    h = h.clone()
    h[rows, last] = values.to(h.dtype)
    return (h, *output[1:]) if isinstance(output, tuple) else h


def label_logits(loaded: Any, prompts: Sequence[Prompt], label_ids: Sequence[int],
                 hook_site: tuple[str, int] | None = None, values: np.ndarray | None = None,
                 batch_size: int = 16) -> np.ndarray:
    """Final-position logits of the answer labels, optionally with a final-token patch."""
    blocks = find_blocks(loaded.model)
    out = []
    with left_padding(loaded.tokenizer):
        for i in range(0, len(prompts), batch_size):
            vals = values[i:i + batch_size] if values is not None else None
            out.append(_batch_label_logits(loaded, prompts[i:i + batch_size], label_ids,
                                           blocks, hook_site, vals))
    return np.concatenate(out)


def _batch_label_logits(loaded: Any, chunk: Sequence[Prompt], label_ids: Sequence[int],
                        blocks: Any, hook_site: tuple[str, int] | None,
                        values: np.ndarray | None) -> np.ndarray:
    import torch

    model = loaded.model
    device = next(model.parameters()).device
    enc = tokenize(loaded.tokenizer, chunk, device, model)
    last = last_token_index(enc["batch"]["attention_mask"])
    rows = torch.arange(len(chunk), device=device)
    handle = None
    if hook_site is not None and values is not None:
        vals = torch.from_numpy(values).to(device)

        def hook(_m: Any, _i: Any, output: Any) -> Any:
            return _replace_final(output, rows, last, vals)
        handle = sublayer(blocks[hook_site[1]], hook_site[0]).register_forward_hook(hook)
    try:
        with torch.inference_mode():
            logits = model(**enc["batch"], **final_only_kwargs(model)).logits
    finally:
        if handle is not None:
            handle.remove()
    return logits[:, -1][:, list(label_ids)].float().cpu().numpy()


def cached_patch_logits(loaded: Any, prompts: Sequence[Prompt], label_ids: Sequence[int],
                        sites: Sequence[tuple[str, int]], values: dict[tuple[str, int],
                                                                     np.ndarray],
                        batch_size: int = 16) -> dict[tuple[str, int], np.ndarray]:
    """Final-token patches for many sites, reusing one prefix pass per batch.

    Attention is causal, so a patch at the final position changes only the final token's own
    computation: the prefix (every token but the last) is run once with a KV cache, and each
    site costs a single one-token forward. Prompts are left-padded so the final tokens align.
    Equal to :func:`label_logits` with ``hook_site`` (tested), at a fraction of the cost.
    """
    import torch

    model, tok = loaded.model, loaded.tokenizer
    device = next(model.parameters()).device
    blocks = find_blocks(model)
    out: dict[tuple[str, int], list[np.ndarray]] = {site: [] for site in sites}
    import inspect

    # transformers 5 renames the forward argument past_key_values -> cache
    cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters \
        else "past_key_values"
    side = tok.padding_side
    tok.padding_side = "left"
    try:
        for i in range(0, len(prompts), batch_size):
            chunk = prompts[i:i + batch_size]
            enc = tokenize(tok, chunk, device, model)["batch"]
            ids, mask, pos = enc["input_ids"], enc["attention_mask"], enc["position_ids"]
            with torch.inference_mode():
                prefix = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1],
                               position_ids=pos[:, :-1], use_cache=True)
            cache = getattr(prefix, "past_key_values", None) or getattr(prefix, "cache", None)
            for site in sites:
                vals = torch.from_numpy(values[site][i:i + batch_size]).to(device)

                def hook(_m: Any, _i: Any, output: Any, _v: Any = vals) -> Any:
                    h = output[0] if isinstance(output, tuple) else output
                    h = h.clone()
                    h[:, -1] = _v.to(h.dtype)
                    return (h, *output[1:]) if isinstance(output, tuple) else h
                handle = sublayer(blocks[site[1]], site[0]).register_forward_hook(hook)
                try:
                    with torch.inference_mode():
                        logits = model(input_ids=ids[:, -1:], attention_mask=mask,
                                       position_ids=pos[:, -1:], use_cache=True,
                                       **{cache_kw: cache}).logits[:, -1]
                finally:
                    handle.remove()
                    cache.crop(-1)  # drop the one token this site appended
                out[site].append(logits[:, list(label_ids)].float().cpu().numpy())
    finally:
        tok.padding_side = side
    return {site: np.concatenate(v) for site, v in out.items()}


def logit_diff(logits: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    rows = np.arange(len(logits))
    return logits[rows, a] - logits[rows, b]


def exact_patching(loaded: Any, pairs: PatchPairs, sites: Sequence[tuple[str, int]],
                   source_acts: dict[tuple[str, int], np.ndarray], label_ids: Sequence[int],
                   batch_size: int = 16, progress: bool = False, mode: str = "cached"
                   ) -> dict[str, Any]:
    """Patch each site; return clean and patched logit differences and top-1 success.

    ``mode="cached"`` reuses a prefix KV cache (one token per site); ``mode="full"`` re-runs
    the whole prompt for every site (the reference, and the baseline for timing attribution).
    """
    clean_t = label_logits(loaded, pairs.targets, label_ids, batch_size=batch_size)
    clean_s = label_logits(loaded, pairs.sources, label_ids, batch_size=batch_size)
    ld_t = logit_diff(clean_t, pairs.source_label, pairs.target_label)
    ld_s = logit_diff(clean_s, pairs.source_label, pairs.target_label)
    per_site: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    if mode == "cached":
        all_patched = cached_patch_logits(loaded, pairs.targets, label_ids, sites, source_acts,
                                          batch_size)
    elif mode != "full":
        raise ValueError(f"unknown patching mode {mode!r}: use cached or full")
    iterator: Any = sites
    if progress and mode == "full":
        from .._util.progress import progress_bar
        iterator = progress_bar(list(sites), desc=f"patching {pairs.name}", unit="site")
    for site in iterator:
        patched = (all_patched[site] if mode == "cached" else
                   label_logits(loaded, pairs.targets, label_ids, site, source_acts[site],
                                batch_size))
        ld_p = logit_diff(patched, pairs.source_label, pairs.target_label)
        per_site[site] = {"ld": ld_p, "effect": ld_p - ld_t,
                          "top1": patched.argmax(axis=1) == pairs.source_label}
    return {"ld_target": ld_t, "ld_source": ld_s, "sites": per_site}


def attribution_patching(loaded: Any, pairs: PatchPairs, sites: Sequence[tuple[str, int]],
                         source_acts: dict[tuple[str, int], np.ndarray],
                         label_ids: Sequence[int], batch_size: int = 8) -> dict[tuple[str, int],
                                                                                 np.ndarray]:
    """grad(LD) . (a_source - a_target) at the final position, for all sites in one pass."""
    import torch

    model = loaded.model
    device = next(model.parameters()).device
    blocks = find_blocks(model)
    label_t = torch.tensor(list(label_ids), device=device)
    result = {site: [] for site in sites}
    pad = left_padding(loaded.tokenizer)
    pad.__enter__()  # left-padded: the final token is the last position for every row
    try:
        _attribution_batches(loaded, pairs, sites, source_acts, label_t, batch_size, blocks,
                             device, result)
    finally:
        pad.__exit__()
    return {site: np.concatenate(v) for site, v in result.items()}


def _attribution_batches(loaded: Any, pairs: PatchPairs, sites: Sequence[tuple[str, int]],
                         source_acts: dict[tuple[str, int], np.ndarray], label_t: Any,
                         batch_size: int, blocks: Any, device: Any,
                         result: dict[tuple[str, int], list[np.ndarray]]) -> None:
    import torch

    model = loaded.model
    for i in range(0, len(pairs.targets), batch_size):
        chunk = pairs.targets[i:i + batch_size]
        enc = tokenize(loaded.tokenizer, chunk, device, model)
        mask = enc["batch"]["attention_mask"]
        last = last_token_index(mask)
        rows = torch.arange(len(chunk), device=device)
        saved: dict[tuple[str, int], Any] = {}

        def make_hook(site: tuple[str, int], store: dict = saved):  # binds this batch's store
            def hook(_m: Any, _i: Any, output: Any) -> None:
                h = output[0] if isinstance(output, tuple) else output
                h.retain_grad()
                store[site] = h
            return hook
        handles = [sublayer(blocks[layer], kind).register_forward_hook(make_hook((kind, layer)))
                   for kind, layer in sites]
        try:
            with torch.enable_grad():
                logits = model(**enc["batch"], **final_only_kwargs(model)).logits[:, -1]
                logits = logits[:, label_t].float()
                src = torch.as_tensor(pairs.source_label[i:i + batch_size], device=device)
                tgt = torch.as_tensor(pairs.target_label[i:i + batch_size], device=device)
                ld = logits[rows, src] - logits[rows, tgt]
                ld.sum().backward()
        finally:
            for h in handles:
                h.remove()
        for site in sites:
            h = saved[site]
            grad = h.grad[rows, last].float()
            target_act = h.detach()[rows, last].float()
            source = torch.from_numpy(source_acts[site][i:i + batch_size]).to(device).float()
            result[site].append(((source - target_act) * grad).sum(-1).cpu().numpy())
        model.zero_grad(set_to_none=True)


def agreement(exact: dict[tuple[str, int], dict[str, np.ndarray]],
              attribution: dict[tuple[str, int], np.ndarray]) -> dict[str, dict[str, float]]:
    """Pearson and Spearman between exact effects and attribution estimates, per site kind."""
    from scipy.stats import pearsonr, spearmanr

    out = {}
    for kind in sorted({k for k, _ in exact}):
        e = np.concatenate([exact[s]["effect"] for s in exact if s[0] == kind])
        a = np.concatenate([attribution[s] for s in exact if s[0] == kind])
        if len(e) > 2 and np.ptp(e) > 0 and np.ptp(a) > 0:
            out[kind] = {"pearson": float(pearsonr(e, a).statistic),
                         "spearman": float(spearmanr(e, a).statistic), "n": len(e)}
        else:
            out[kind] = {"pearson": float("nan"), "spearman": float("nan"), "n": len(e)}
    return out
