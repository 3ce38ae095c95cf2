"""Exact activation patching and attribution patching at the final position.

Exact: run the target prompt with one site's final-token activation replaced by the source
prompt's, and read the logit difference between the source's and the target's answer labels.
Attribution: one forward and one backward pass on the target give, for every site at once, the
first-order estimate grad(LD) . (a_source - a_target) of the same quantity. Both are scored per
pair; their agreement (Pearson, Spearman) per site kind is reported.

Site arguments may be :class:`~.hooks.Site` values or ``(kind, layer)`` tuples; results are
keyed by the sites exactly as the caller gave them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import numpy as np

from .._util.progress import progress_bar
from ..errors import UsageError
from .hooks import Site, SiteLike, padding_side, trace
from .inputs import final_only_kwargs, label_forward, last_token_index, model_device, tokenize
from .models import LoadedModel
from .prompts import Prompt

if TYPE_CHECKING:
    import torch

K = TypeVar("K", bound="Site | tuple[str, int]")  # a site, as the caller names it


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


def _set_rows(rows: Any, positions: Any, values: torch.Tensor
              ) -> Callable[[Site, torch.Tensor], torch.Tensor]:
    """An edit that writes ``values`` at ``(rows, positions)`` of a copy of the hidden states."""
    def edit(_site: Site, h: torch.Tensor) -> torch.Tensor:
        h = h.clone()
        h[rows, positions] = values.to(h.dtype)
        return h
    return edit


def label_logits(loaded: LoadedModel, prompts: Sequence[Prompt], label_ids: Sequence[int],
                 hook_site: SiteLike | None = None, values: np.ndarray | None = None,
                 batch_size: int = 16) -> np.ndarray:
    """Final-position logits of the answer labels, optionally with a final-token patch."""
    out = []
    with padding_side(loaded.tokenizer, "left"):
        for i in range(0, len(prompts), batch_size):
            vals = values[i:i + batch_size] if values is not None else None
            out.append(_batch_label_logits(loaded, prompts[i:i + batch_size], label_ids,
                                           hook_site, vals))
    return np.concatenate(out)


def _batch_label_logits(loaded: LoadedModel, chunk: Sequence[Prompt], label_ids: Sequence[int],
                        hook_site: SiteLike | None, values: np.ndarray | None) -> np.ndarray:
    import torch

    model = loaded.model
    device = model_device(model)
    enc = tokenize(loaded.tokenizer, chunk, device, model)
    sites: list[SiteLike] = []
    edit = None
    if hook_site is not None and values is not None:
        rows = torch.arange(len(chunk), device=device)
        edit = _set_rows(rows, last_token_index(enc.mask), torch.from_numpy(values).to(device))
        sites = [hook_site]
    with trace(model, sites, retain=False, edit=edit):
        return label_forward(model, enc, label_ids)


def cached_patch_logits(loaded: LoadedModel, prompts: Sequence[Prompt],
                        label_ids: Sequence[int], sites: Sequence[K],
                        values: dict[K, np.ndarray], batch_size: int = 16
                        ) -> dict[K, np.ndarray]:
    """Final-token patches for many sites, reusing one prefix pass per batch.

    Attention is causal, so a patch at the final position changes only the final token's own
    computation: the prefix (every token but the last) is run once with a KV cache, and each
    site costs a single one-token forward. Prompts are left-padded so the final tokens align.
    Equal to :func:`label_logits` with ``hook_site`` (tested), at a fraction of the cost.
    """
    import torch

    model, tok = loaded.model, loaded.tokenizer
    device = model_device(model)
    out: dict[K, list[np.ndarray]] = {site: [] for site in sites}
    # transformers 5 renames the forward argument past_key_values -> cache
    cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters \
        else "past_key_values"
    final = slice(None), -1
    with padding_side(tok, "left"):
        for i in range(0, len(prompts), batch_size):
            enc = tokenize(tok, prompts[i:i + batch_size], device, model).batch
            ids, mask, pos = enc["input_ids"], enc["attention_mask"], enc["position_ids"]
            with torch.inference_mode():
                prefix = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1],
                               position_ids=pos[:, :-1], use_cache=True)
            cache = getattr(prefix, "past_key_values", None) or getattr(prefix, "cache", None)
            for site in sites:
                vals = torch.from_numpy(values[site][i:i + batch_size]).to(device)
                try:
                    with trace(model, [Site.of(site)], retain=False,
                               edit=_set_rows(*final, vals)), torch.inference_mode():
                        logits = model(input_ids=ids[:, -1:], attention_mask=mask,
                                       position_ids=pos[:, -1:], use_cache=True,
                                       **{cache_kw: cache}).logits[:, -1]
                finally:
                    cache.crop(-1)  # drop the one token this site appended
                out[site].append(logits[:, list(label_ids)].float().cpu().numpy())
    return {site: np.concatenate(v) for site, v in out.items()}


@dataclass
class SitePatch:
    """One site's exact patch over the pairs: patched logit difference, its change from the
    clean target (the effect), and whether the patch made the source's label the argmax."""

    ld: np.ndarray
    effect: np.ndarray
    top1: np.ndarray


@dataclass
class ExactPatching(Generic[K]):
    """Clean logit differences of targets and sources, and each site's patch."""

    ld_target: np.ndarray
    ld_source: np.ndarray
    sites: dict[K, SitePatch]


def logit_diff(logits: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    rows = np.arange(len(logits))
    return logits[rows, a] - logits[rows, b]


def exact_patching(loaded: LoadedModel, pairs: PatchPairs, sites: Sequence[K],
                   source_acts: dict[K, np.ndarray], label_ids: Sequence[int],
                   batch_size: int = 16, progress: bool = False,
                   mode: Literal["cached", "full"] = "cached") -> ExactPatching[K]:
    """Patch each site; return clean and patched logit differences and top-1 success.

    ``mode="cached"`` reuses a prefix KV cache (one token per site); ``mode="full"`` re-runs
    the whole prompt for every site (the reference, and the baseline for timing attribution).
    """
    if mode not in ("cached", "full"):
        raise UsageError(f"unknown patching mode {mode!r}: use cached or full")
    clean_t = label_logits(loaded, pairs.targets, label_ids, batch_size=batch_size)
    clean_s = label_logits(loaded, pairs.sources, label_ids, batch_size=batch_size)
    ld_t = logit_diff(clean_t, pairs.source_label, pairs.target_label)
    ld_s = logit_diff(clean_s, pairs.source_label, pairs.target_label)
    per_site: dict[K, SitePatch] = {}
    if mode == "cached":
        all_patched = cached_patch_logits(loaded, pairs.targets, label_ids, sites, source_acts,
                                          batch_size)
    iterator: Sequence[K] = sites
    if progress and mode == "full":
        iterator = progress_bar(list(sites), desc=f"patching {pairs.name}", unit="site")
    for site in iterator:
        patched = (all_patched[site] if mode == "cached" else
                   label_logits(loaded, pairs.targets, label_ids, Site.of(site),
                                source_acts[site], batch_size))
        ld_p = logit_diff(patched, pairs.source_label, pairs.target_label)
        per_site[site] = SitePatch(ld_p, ld_p - ld_t, patched.argmax(axis=1) == pairs.source_label)
    return ExactPatching(ld_t, ld_s, per_site)


def attribution_patching(loaded: LoadedModel, pairs: PatchPairs, sites: Sequence[K],
                         source_acts: dict[K, np.ndarray], label_ids: Sequence[int],
                         batch_size: int = 8, final_only: bool = True) -> dict[K, np.ndarray]:
    """grad(LD) . (a_source - a_target) at the final position, for all sites in one pass.

    ``autograd.grad`` asks for the sites' gradients alone, never the parameters'. With
    ``final_only`` (where the model takes a KV cache), the prompt but its last token runs once
    without gradients and only the last token runs with them: the patched activations are the
    final token's, and attention is causal, so nothing before the final token depends on them
    and the gradient is the one a whole backward pass gives (tested), at a fraction of the cost.
    """
    import torch

    from .shared_prefix import supports_shared_prefix

    model = loaded.model
    device = model_device(model)
    label_t = torch.tensor(list(label_ids), device=device)
    cached = final_only and supports_shared_prefix(model)
    wanted = [Site.of(s) for s in sites]
    result: dict[K, list[np.ndarray]] = {site: [] for site in sites}
    # left-padded: the final token is the last position of every row
    with padding_side(loaded.tokenizer, "left"):
        for i in range(0, len(pairs.targets), batch_size):
            chunk = pairs.targets[i:i + batch_size]
            enc = tokenize(loaded.tokenizer, chunk, device, model).batch
            inputs = _last_token_inputs(model, enc) if cached else {
                **enc, **final_only_kwargs(model)}
            rows = torch.arange(len(chunk), device=device)
            with trace(model, wanted, retain=_keep) as tr, torch.enable_grad():
                logits = model(**inputs).logits[:, -1]
                ld = _pair_logit_diff(logits, label_t, pairs, i, batch_size, rows)
                hs = [tr[site] for site in wanted]
                grads = torch.autograd.grad(ld.sum(), hs)
            for site, h, grad in zip(sites, hs, grads, strict=True):
                target_act = h.detach()[:, -1].float()
                source = torch.from_numpy(source_acts[site][i:i + batch_size]).to(device).float()
                result[site].append(((source - target_act) * grad[:, -1].float()).sum(-1)
                                    .cpu().numpy())
            del inputs, hs, grads, logits, ld
    return {site: np.concatenate(v) for site, v in result.items()}


def _keep(_site: Site, h: torch.Tensor) -> torch.Tensor:
    return h


def _last_token_inputs(model: torch.nn.Module, enc: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Forward arguments for the last token alone, on a KV cache of the rest of the prompt
    computed without gradients (``no_grad``, not ``inference_mode``: autograd reads the cache)."""
    import torch

    from .shared_prefix import cache_argument, returned_cache

    ids, mask, pos = enc["input_ids"], enc["attention_mask"], enc["position_ids"]
    with torch.no_grad():
        cache = returned_cache(model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1],
                                     position_ids=pos[:, :-1], use_cache=True))
    return {"input_ids": ids[:, -1:], "attention_mask": mask, "position_ids": pos[:, -1:],
            "use_cache": True, cache_argument(model): cache}


def _pair_logit_diff(logits: torch.Tensor, label_t: torch.Tensor, pairs: PatchPairs, i: int,
                     batch_size: int, rows: torch.Tensor) -> torch.Tensor:
    """Source label minus target label at the final position, for the batch from row ``i``."""
    import torch

    picked = logits[:, label_t].float()
    src = torch.as_tensor(pairs.source_label[i:i + batch_size], device=logits.device)
    tgt = torch.as_tensor(pairs.target_label[i:i + batch_size], device=logits.device)
    return picked[rows, src] - picked[rows, tgt]


def agreement(exact: dict[K, SitePatch], attribution: dict[K, np.ndarray]
              ) -> dict[str, dict[str, float]]:
    """Pearson and Spearman between exact effects and attribution estimates, per site kind."""
    from scipy.stats import pearsonr, spearmanr

    kind = {s: Site.of(s).kind for s in exact}
    out = {}
    for k in sorted(set(kind.values())):
        e = np.concatenate([exact[s].effect for s in exact if kind[s] == k])
        a = np.concatenate([attribution[s] for s in exact if kind[s] == k])
        if len(e) > 2 and np.ptp(e) > 0 and np.ptp(a) > 0:
            out[k] = {"pearson": float(pearsonr(e, a).statistic),
                      "spearman": float(spearmanr(e, a).statistic), "n": len(e)}
        else:
            out[k] = {"pearson": float("nan"), "spearman": float("nan"), "n": len(e)}
    return out


TOP_K = 10  # sites compared by top-k overlap (fewer where a kind has fewer sites)


def top_k_overlap(exact: dict[K, SitePatch], attribution: dict[K, np.ndarray],
                  k: int = TOP_K) -> dict[str, dict[str, float | int]]:
    """Share of the k sites with the largest mean exact effect that the attribution also ranks
    in its top k, per site kind and over all sites (``"all"``).

    Sites are ranked by their mean over the pairs, largest first (the effect that moves the
    logit difference towards the source, as ``top_sites`` ranks them). Where a group has no
    more than k sites the overlap is 1 by construction; ``k`` and ``n_sites`` say so.
    """
    kind = {s: Site.of(s).kind for s in exact}
    groups = {k_: [s for s in exact if kind[s] == k_] for k_ in sorted(set(kind.values()))}
    groups["all"] = list(exact)
    out: dict[str, dict[str, float | int]] = {}
    for name, group in groups.items():
        kk = min(k, len(group))
        top_e = set(sorted(group, key=lambda s: -float(exact[s].effect.mean()))[:kk])
        top_a = set(sorted(group, key=lambda s: -float(attribution[s].mean()))[:kk])
        out[name] = {"overlap": len(top_e & top_a) / kk if kk else float("nan"), "k": kk,
                     "n_sites": len(group)}
    return out
