"""Activation capture: pooled outputs of many sites in one pass, cached on disk.

Sites are :class:`~.hooks.Site` values (or ``(kind, layer)`` tuples): the residual stream after
a block, the attention output or the MLP output. Each batch is pooled inside the hook, at the
final token or as the mean over the stimulus tokens, and only the pooled rows move to the CPU:
tracing every site of a model never holds more than one batch's pooled activations.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._util.atomic import atomic_write_bytes
from .._util.progress import progress_bar
from .hooks import Site, SiteLike, padding_side, record_blocks, trace
from .inputs import (
    Encoded,
    final_logits,
    final_only_kwargs,
    last_token_index,
    model_device,
    stimulus_mask,
    tokenize,
)
from .models import LoadedModel
from .prompts import Prompt
from .shared_prefix import (
    SharedPrefixRunner,
    SplitPrompts,
    length_order,
    split_prompts,
    supports_shared_prefix,
)

if TYPE_CHECKING:
    import torch

Position = Literal["final", "mean"]
ActKey = tuple[str, int, str]  # (kind, layer, position)


@dataclass
class CaptureResult:
    """Pooled activations per site: ``acts[(kind, layer, position)]`` is [n_items, hidden]."""

    acts: dict[ActKey, np.ndarray] = field(default_factory=dict)
    final_logits: np.ndarray | None = None

    def get(self, kind: str, layer: int, position: str = "final") -> np.ndarray:
        return self.acts[(kind, layer, position)]

    def at(self, site: Site, position: str = "final") -> np.ndarray:
        return self.acts[(site.kind, site.layer, position)]


def _pooler(enc: Encoded, chunk: Sequence[Prompt], positions: Sequence[str]
            ) -> Callable[[Site, torch.Tensor], dict[str, np.ndarray]]:
    """The per-site reduction for one batch: {position: pooled rows as float32 numpy}."""
    import torch

    last = last_token_index(enc.mask)
    rows = torch.arange(last.shape[0], device=last.device)
    weights = None
    if "mean" in positions:
        stim = enc.mask.bool().cpu() if enc.offsets is None else \
            stimulus_mask(enc.offsets, enc.mask, chunk)
        m = stim.float()
        # [batch, 1, tokens] averaging weights: the mean is one batched matrix-vector product
        # per site, which reads the hidden states once instead of writing a masked copy
        weights = (m / m.sum(1, keepdim=True).clamp(min=1)).unsqueeze(1)
    on_device: dict[tuple[Any, Any], torch.Tensor] = {}

    def pool(_site: Site, h: torch.Tensor) -> dict[str, np.ndarray]:
        out = {}
        for pos in positions:
            if pos == "final":
                pooled = h[rows.to(h.device), last.to(h.device)]
            else:
                key = (h.device, h.dtype)
                if key not in on_device:
                    on_device[key] = weights.to(h.device, h.dtype)
                pooled = torch.bmm(on_device[key], h).squeeze(1)
            out[pos] = pooled.detach().float().cpu().numpy()
        return out
    return pool


def capture(loaded: LoadedModel, prompts: Sequence[Prompt], sites: Sequence[SiteLike],
            positions: Sequence[Position] = ("final",), batch_size: int = 16,
            keep_logits: Sequence[int] | None = None, progress: bool = False,
            shared_prefix: bool = True) -> CaptureResult:
    """Run the model over prompts and return the pooled activations of the requested sites.

    ``keep_logits``: token ids whose final-position logits are also returned (answer labels).
    On CUDA out-of-memory the batch size halves and the batch is retried. ``shared_prefix``:
    on a causal LM, prompts that open with the same tokens (the two-shot preset) run that
    opening once, through a KV cache (:mod:`.shared_prefix`); False forces full passes.
    """
    model, tokenizer = loaded.model, loaded.tokenizer
    wanted = [Site.of(s) for s in sites]
    causal = hasattr(model, "lm_head") or loaded.kind == "causal"
    split = None
    if causal and shared_prefix and supports_shared_prefix(model):
        split = split_prompts(tokenizer, prompts)
    bar = progress_bar(range(len(prompts)), desc="capture", unit="item") if progress else None
    try:
        if split is not None:
            return _capture_shared(loaded, prompts, split, wanted, positions, batch_size,
                                   keep_logits, bar)
        return _capture_full(loaded, prompts, wanted, positions, batch_size, keep_logits, bar,
                             causal)
    finally:
        if bar is not None and hasattr(bar, "close"):
            bar.close()


def _result(store: dict[ActKey, list[np.ndarray]], logits_out: list[np.ndarray],
            keep_logits: Sequence[int] | None, order: np.ndarray | None = None
            ) -> CaptureResult:
    """Concatenate the batches; ``order`` (the row each output row came from) is undone."""
    def cat(parts: list[np.ndarray]) -> np.ndarray:
        out = np.concatenate(parts)
        if order is None:
            return out
        back = np.empty_like(out)
        back[order] = out
        return back

    result = CaptureResult({k: cat(v) if v else np.zeros((0, 0), np.float32)
                            for k, v in store.items()})
    if keep_logits is not None:
        result.final_logits = cat(logits_out) if logits_out else None
    return result


def _capture_shared(loaded: LoadedModel, prompts: Sequence[Prompt], split: SplitPrompts,
                    wanted: list[Site], positions: Sequence[Position], batch_size: int,
                    keep_logits: Sequence[int] | None, bar: Any) -> CaptureResult:
    """Tails only, on a KV cache of the shared opening, in order of tail length."""
    import torch

    model = loaded.model
    runner = SharedPrefixRunner(model, split, model_device(model))
    extra = {k: v for k, v in final_only_kwargs(model).items() if k != "use_cache"}
    order = length_order(split)
    store: dict[ActKey, list[np.ndarray]] = {
        (s.kind, s.layer, pos): [] for s in wanted for pos in positions}
    logits_out: list[np.ndarray] = []
    i, bs = 0, batch_size
    try:
        while i < len(order):
            rows = order[i:i + bs]
            chunk = [prompts[r] for r in rows]
            try:
                kwargs, enc = runner.encode(rows)
                with trace(model, wanted, retain=_pooler(enc, chunk, positions)) as tr, \
                        torch.inference_mode():
                    out = model(**kwargs, **extra)
            except torch.cuda.OutOfMemoryError:
                if bs == 1:
                    raise
                runner.release()
                torch.cuda.empty_cache()
                bs = max(1, bs // 2)
                continue
            finally:
                runner.done()
            for kind, layer, pos in store:
                store[(kind, layer, pos)].append(tr[(kind, layer)][pos])
            if keep_logits is not None:
                logits_out.append(final_logits(out, keep_logits))  # left-padded tails
            del out
            if bar is not None and hasattr(bar, "update"):
                bar.update(len(chunk))
            i += len(chunk)
    finally:
        runner.release()
    return _result(store, logits_out, keep_logits, np.asarray(order))


def _capture_full(loaded: LoadedModel, prompts: Sequence[Prompt], wanted: list[Site],
                  positions: Sequence[Position], batch_size: int,
                  keep_logits: Sequence[int] | None, bar: Any, causal: bool) -> CaptureResult:
    """Every prompt through the whole model, left-padded, in the given order."""
    import torch

    model, tokenizer = loaded.model, loaded.tokenizer
    device = model_device(model)
    store: dict[ActKey, list[np.ndarray]] = {
        (s.kind, s.layer, pos): [] for s in wanted for pos in positions}
    logits_out: list[np.ndarray] = []
    extra = final_only_kwargs(model) if causal else {}
    i, bs = 0, batch_size
    with padding_side(tokenizer, "left") if causal else nullcontext():
        while i < len(prompts):
            chunk = prompts[i:i + bs]
            enc = tokenize(tokenizer, chunk, device, model)
            try:
                with trace(model, wanted, retain=_pooler(enc, chunk, positions)) as tr, \
                        torch.inference_mode():
                    out = model(**enc.batch, **extra)
            except torch.cuda.OutOfMemoryError:
                if bs == 1:
                    raise
                torch.cuda.empty_cache()
                bs = max(1, bs // 2)
                continue
            for kind, layer, pos in store:
                store[(kind, layer, pos)].append(tr[(kind, layer)][pos])
            if keep_logits is not None:
                logits_out.append(final_logits(out, keep_logits))  # left-padded: final is last
            if bar is not None and hasattr(bar, "update"):
                bar.update(len(chunk))
            i += len(chunk)
    return _result(store, logits_out, keep_logits)


# ---- clean block outputs, to replay -----------------------------------------------------------

def record_prefix(loaded: LoadedModel, prompts: Sequence[Prompt], layers: Sequence[int],
                  batch_size: int = 16) -> list[dict[int, Any]]:
    """Per batch (left-padded, ``batch_size`` prompts, in order), the clean outputs of the
    listed blocks: what :func:`~.hooks.replay_blocks` feeds a later run of the *same* batches
    that edits a later block, so that run computes only the blocks after the edit.

    Memory is blocks x prompts x tokens x hidden (about 10 MB a block for 16 SmolLM2 prompts).
    """
    import torch

    model, tok = loaded.model, loaded.tokenizer
    device = model_device(model)
    out = []
    with padding_side(tok, "left"):
        for i in range(0, len(prompts), batch_size):
            enc = tokenize(tok, prompts[i:i + batch_size], device, model)
            with record_blocks(model, layers) as rec, torch.inference_mode():
                model(**enc.batch, **final_only_kwargs(model))
            out.append(dict(rec))
    return out


# ---- on-disk cache ---------------------------------------------------------------------------

def cache_key(**parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def save_capture(path: Path, result: CaptureResult, metadata: dict[str, str]) -> None:
    """safetensors, written atomically (no pickle)."""
    from safetensors.numpy import save

    tensors = {f"{k}|{layer}|{pos}": np.ascontiguousarray(v, np.float32)
               for (k, layer, pos), v in result.acts.items()}
    if result.final_logits is not None:
        tensors["__logits__"] = np.ascontiguousarray(result.final_logits, np.float32)
    atomic_write_bytes(path, save(tensors, metadata=metadata))


def load_capture(path: Path) -> CaptureResult:
    from safetensors.numpy import load_file

    raw = load_file(str(path))
    acts = {}
    logits = raw.pop("__logits__", None)
    for key, value in raw.items():
        kind, layer, pos = key.split("|")
        acts[(kind, int(layer), pos)] = value
    return CaptureResult(acts, logits)


def cached_capture(loaded: LoadedModel, prompts: Sequence[Prompt], sites: Sequence[SiteLike],
                   positions: Sequence[Position], key_parts: dict[str, str],
                   cache: Path | None, batch_size: int = 16,
                   keep_logits: Sequence[int] | None = None, progress: bool = False
                   ) -> tuple[CaptureResult, bool]:
    """Capture, or load the identical earlier capture from ``cache``; returns (result, hit)."""
    key = cache_key(sites=sorted(tuple(Site.of(s)) for s in sites),
                    positions=sorted(positions),
                    prompts=hashlib.sha256("\x00".join(p.text for p in prompts).encode())
                    .hexdigest(), logits=list(keep_logits or []),
                    passes="shared-prefix", **key_parts)  # how it was computed, too
    path = cache / f"{key}.safetensors" if cache else None
    if path is not None and path.is_file():
        return load_capture(path), True
    result = capture(loaded, prompts, sites, positions, batch_size, keep_logits, progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_capture(path, result, {k: str(v) for k, v in key_parts.items()})
    return result, False
