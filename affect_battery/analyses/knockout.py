"""Knockout: ablate one layer's attention or MLP output and watch the emotion signal drop.

Three ablations of the sublayer's output at every position: ``zero``; ``mean`` (the output's
mean over all tokens of a reference set of prompts); ``resample`` (each row takes another row's
output, prompts right-aligned by left padding so positions correspond; where the prompts share
an opening that runs once, the opening is the same in every row and is left as it is).
Effects are measured on the logit difference between the intended emotion's answer label and
"none" at the final token, and on a frozen probe's clinical-vs-neutral AUROC at a read-out
layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import UsageError
from .choices import ABLATIONS, Ablation
from .hooks import Site, SiteLike, padding_side, replay_blocks, trace
from .inputs import final_logits, final_only_kwargs, last_token_index, model_device, tokenize
from .models import LoadedModel
from .prompts import Prompt
from .shared_prefix import CleanTails, edited_tail_pass

if TYPE_CHECKING:
    import torch

K = TypeVar("K", bound="Site | tuple[str, int]")  # a site, as the caller names it


def site_means(loaded: LoadedModel, prompts: Sequence[Prompt], sites: Sequence[K],
               batch_size: int = 16) -> dict[K, np.ndarray]:
    """Mean output of each site over every attended token of the prompts."""
    import torch

    model = loaded.model
    device = model_device(model)
    sums: dict[K, torch.Tensor] = {}
    count = 0
    for i in range(0, len(prompts), batch_size):
        enc = tokenize(loaded.tokenizer, prompts[i:i + batch_size], device, model)
        mask = enc.mask
        count += int(mask.sum())

        def masked_sum(_site: Site, h: torch.Tensor, m: torch.Tensor = mask) -> torch.Tensor:
            w = m.unsqueeze(-1).to(h.dtype)
            return (h * w).sum((0, 1)).float().cpu()
        with trace(model, [Site.of(s) for s in sites], retain=masked_sum) as tr, \
                torch.inference_mode():
            model(**enc.batch, **final_only_kwargs(model))
        for site in sites:
            sums[site] = sums.get(site, 0) + tr[Site.of(site)]
    return {site: (s / max(count, 1)).numpy() for site, s in sums.items()}


def ablation(method: Ablation, mean: np.ndarray | None = None, seed: int = 0
             ) -> Callable[[Site, torch.Tensor], torch.Tensor]:
    """The edit that replaces a site's output under one ablation method.

    ``resample`` draws its permutations from a generator seeded once, so a run is reproducible
    batch after batch.
    """
    import torch

    if method not in ABLATIONS:
        raise UsageError(f"unknown ablation {method!r}: use one of {', '.join(ABLATIONS)}")
    gen = torch.Generator().manual_seed(seed)

    def ablate(_site: Site, h: torch.Tensor) -> torch.Tensor:
        if method == "zero":
            return torch.zeros_like(h)
        if method == "mean":
            return torch.as_tensor(mean, device=h.device, dtype=h.dtype).expand_as(h).clone()
        perm = torch.randperm(h.shape[0], generator=gen).to(h.device)
        return h[perm].clone()
    return ablate


def ablated_run(loaded: LoadedModel, prompts: Sequence[Prompt], site: SiteLike,
                method: Ablation, label_ids: Sequence[int], readout: SiteLike | None = None,
                mean: np.ndarray | None = None, batch_size: int = 16, seed: int = 0,
                prefix: Sequence[dict[int, Any]] | CleanTails | None = None,
                logit_rows: Sequence[int] | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """(answer-label logits at the final token, read-out activations) under one ablation.

    ``logit_rows``: the prompts whose logits are wanted (all when None); the others' logits
    are NaN. On the shared-opening path those prompts stop at the read-out block (or, with
    nothing to read, at the ablated block for resample, and do not run for zero and mean):
    knockout scores the logit difference on its clinical half only.

    ``prefix``: the clean block outputs of the same prompts and batches
    (:func:`~.capture.record_prefix`); the blocks before the ablated one are then replayed
    rather than recomputed, with the same result. Given as :class:`~.shared_prefix.CleanTails`
    (:func:`~.shared_prefix.record_clean_tails`), the prompts' shared opening also runs once
    per batch instead of once per prompt.
    """
    import torch

    model, tok = loaded.model, loaded.tokenizer
    device = model_device(model)
    ablate = ablation(method, mean, seed)
    layer = Site.of(site).layer
    if isinstance(prefix, CleanTails):
        # a resample ablation permutes rows; the opening runs as one row, so it is unchanged
        logits, reads = _ablated_tails(loaded, prefix, site, ablate, label_ids, readout,
                                       mixes_rows=method == "resample", logit_rows=logit_rows)
        return _unwanted_nan(logits, logit_rows), reads
    n_batches = -(-len(prompts) // batch_size)
    if prefix is not None and len(prefix) != n_batches:
        raise UsageError(f"prefix has {len(prefix)} batches, the prompts make {n_batches}")
    logits_out, read_out = [], []
    # right-aligned prompts make resampled positions correspond
    with padding_side(tok, "left"):
        for b, i in enumerate(range(0, len(prompts), batch_size)):
            enc = tokenize(tok, prompts[i:i + batch_size], device, model)
            replay = nullcontext() if prefix is None else replay_blocks(
                model, {k: v for k, v in prefix[b].items() if k < layer})
            last = last_token_index(enc.mask)

            def final_rows(_site: Site, h: torch.Tensor, last: torch.Tensor = last
                           ) -> np.ndarray:
                return h[torch.arange(h.shape[0], device=h.device), last].float().cpu().numpy()
            reads = [readout] if readout is not None else []
            with replay, trace(model, [site], retain=False, edit=ablate), \
                    trace(model, reads, retain=final_rows) as read, torch.inference_mode():
                out = model(**enc.batch, **final_only_kwargs(model))
            if hasattr(out, "logits"):  # left-padded: the final token is last
                logits_out.append(final_logits(out, label_ids))
            if readout is not None:
                read_out.append(read[readout])
    logits = np.concatenate(logits_out) if logits_out else np.zeros((len(prompts), 0))
    return _unwanted_nan(logits, logit_rows), (
        np.concatenate(read_out) if readout is not None else None)


def _unwanted_nan(logits: np.ndarray, logit_rows: Sequence[int] | None) -> np.ndarray:
    """The logits with the rows outside ``logit_rows`` set to NaN (the same on both paths,
    whether those rows ran to the end or stopped early)."""
    if logit_rows is not None and logits.size:
        logits[np.setdiff1d(np.arange(len(logits)), list(logit_rows))] = np.nan
    return logits


def _ablated_tails(loaded: LoadedModel, tails: CleanTails, site: SiteLike,
                   ablate: Callable[[Site, torch.Tensor], torch.Tensor],
                   label_ids: Sequence[int], readout: SiteLike | None,
                   mixes_rows: bool = False, logit_rows: Sequence[int] | None = None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`ablated_run` on prompts that share an opening: the opening runs once per batch
    from the ablated block on (ablated too: zero and mean replace it as in a whole pass;
    resample, which mixes rows, leaves it as it is, since every prompt has the same opening,
    and its clean cache is used), then the tails, replaying the clean blocks before the
    ablated one. Rows outside ``logit_rows`` stop where nothing more is read from them."""
    model = loaded.model
    layer = Site.of(site).layer
    # past this block, only the rows whose logits are wanted go on
    split = Site.of(readout).layer if readout is not None else layer if mixes_rows else -1
    wanted = None if logit_rows is None else set(logit_rows)
    reads = [readout] if readout is not None else []

    def edit() -> Any:
        return trace(model, [site], retain=False, edit=ablate)
    logits_out, read_out = [], []
    for b, rows in enumerate(tails.batches):
        keep = list(range(len(rows))) if wanted is None else \
            [j for j, r in enumerate(rows) if r in wanted]
        if len(keep) == len(rows) or split >= loaded.n_layers - 1:
            out, read = edited_tail_pass(loaded, tails, b, edit, lambda k: k < layer, reads,
                                         not mixes_rows)
            full = final_logits(out, label_ids) if hasattr(out, "logits") else None
        else:  # NaN rows stay NaN: those prompts stop early
            out, read = (None, None) if split < 0 else edited_tail_pass(
                loaded, tails, b, edit, lambda k: k < layer, reads, not mixes_rows,
                stop_after=split)
            full = np.full((len(rows), len(label_ids)), np.nan, dtype=np.float32)
            if keep:
                rest, _ = edited_tail_pass(loaded, tails, b, edit, lambda k: k < layer, (),
                                           not mixes_rows, keep=keep, resume=out)
                full[keep] = final_logits(rest, label_ids)
        if full is not None:
            logits_out.append(full)
        if readout is not None:
            read_out.append(read[readout])
    n = sum(len(rows) for rows in tails.batches)
    logits = np.concatenate(logits_out) if logits_out else np.zeros((n, 0))
    return logits, (np.concatenate(read_out) if readout is not None else None)


def critical_layers(drops: dict[int, float], top: int = 3) -> list[int]:
    """Layers whose ablation lowers the signal most (positive drops only)."""
    ranked = sorted(((d, layer) for layer, d in drops.items() if d > 0), reverse=True)
    return [layer for _, layer in ranked[:top]]
