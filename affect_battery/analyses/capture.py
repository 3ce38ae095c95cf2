"""Activation capture with forward hooks on a Hugging Face model's own modules.

Sites are named ``(kind, layer)`` with kind ``resid`` (the block's output: the residual stream
after the block), ``attn`` (the attention sublayer's output before it is added to the residual)
or ``mlp`` (the MLP sublayer's output). Hooks pool each batch at once, at the final token or as
the mean over the stimulus tokens, and move only the requested, pooled sites to the CPU.
Padding is handled through the attention mask, so left and right padding give the same result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ArchitectureError
from .prompts import Prompt

SITE_KINDS = ("resid", "attn", "mlp")
POSITIONS = ("final", "mean")



def find_blocks(model: Any) -> Any:
    """The ModuleList of transformer blocks (Llama-, GPT-2-, BERT-style and most others)."""
    import torch

    n = getattr(model.config, "num_hidden_layers", None) or getattr(model.config, "n_layer", None)
    candidates = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n:
            candidates.append((name.count("."), name, module))
    if not candidates:
        raise ArchitectureError(f"no list of {n} blocks found in {type(model).__name__}")
    return sorted(candidates, key=lambda c: c[0])[0][2]


def _first_attr(obj: Any, names: Iterable[str]) -> Any:
    for dotted in names:
        cur = obj
        try:
            for part in dotted.split("."):
                cur = getattr(cur, part)
        except AttributeError:
            continue
        return cur
    return None


def sublayer(block: Any, kind: str) -> Any:
    """The module whose output is the given site of one block."""
    if kind == "resid":
        return block
    if kind == "attn":
        mod = _first_attr(block, ("self_attn", "attn", "attention.output.dense",
                                  "self_attention", "attention"))
    else:
        mod = _first_attr(block, ("mlp", "feed_forward", "output.dense", "ffn"))
    if mod is None:
        raise ArchitectureError(f"no {kind} sublayer in {type(block).__name__}")
    return mod


def _tensor_of(output: Any) -> Any:
    return output[0] if isinstance(output, tuple) else output


def last_token_index(mask: Any) -> Any:
    """Index of the last attended token per row (works for left and right padding)."""
    import torch

    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    return (positions * mask).argmax(dim=1)


def stimulus_mask(offsets: Any, attention: Any, prompts: Sequence[Prompt]) -> Any:
    """Tokens whose character span overlaps the stimulus span of their prompt."""
    import torch

    starts = torch.tensor([p.stimulus_start for p in prompts]).unsqueeze(1)
    ends = torch.tensor([p.stimulus_end for p in prompts]).unsqueeze(1)
    tok_start, tok_end = offsets[..., 0], offsets[..., 1]
    inside = (tok_end > starts) & (tok_start < ends) & (tok_end > tok_start)
    return inside & attention.bool().cpu()


@dataclass
class CaptureResult:
    """Pooled activations per site: ``acts[(kind, layer, position)]`` is [n_items, hidden]."""

    acts: dict[tuple[str, int, str], np.ndarray] = field(default_factory=dict)
    final_logits: np.ndarray | None = None

    def get(self, kind: str, layer: int, position: str = "final") -> np.ndarray:
        return self.acts[(kind, layer, position)]


def accepts_position_ids(model: Any) -> bool:
    import inspect

    return "position_ids" in inspect.signature(model.forward).parameters


def final_only_kwargs(model: Any) -> dict[str, Any]:
    """Ask a causal LM for last-position logits only (a 49k-vocabulary head over every position
    costs hundreds of MB per batch). Callers left-pad, so the last position is the final token.
    """
    import inspect

    params = inspect.signature(model.forward).parameters
    if "logits_to_keep" in params:
        return {"logits_to_keep": 1}
    if "num_logits_to_keep" in params:
        return {"num_logits_to_keep": 1}
    return {}


class left_padding:
    """Temporarily left-pad a tokenizer (final tokens align at position -1)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __enter__(self) -> Any:
        self.side = self.tokenizer.padding_side
        self.tokenizer.padding_side = "left"
        return self.tokenizer

    def __exit__(self, *exc: object) -> None:
        self.tokenizer.padding_side = self.side


def tokenize(tokenizer: Any, prompts: Sequence[Prompt], device: Any,
             model: Any | None = None) -> dict[str, Any]:
    """Tokenise a batch; position ids follow the attention mask, so left padding (whose pads
    come first) does not shift absolute position embeddings such as GPT-2's."""
    enc = tokenizer([p.text for p in prompts], padding=True, return_tensors="pt",
                    return_offsets_mapping=bool(getattr(tokenizer, "is_fast", False)))
    offsets = enc.pop("offset_mapping", None)
    batch = {k: v.to(device) for k, v in enc.items()}
    if model is not None and accepts_position_ids(model):
        mask = batch["attention_mask"]
        batch["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)
    return {"batch": batch, "offsets": offsets}


def capture(loaded: Any, prompts: Sequence[Prompt], sites: Sequence[tuple[str, int]],
            positions: Sequence[str] = ("final",), batch_size: int = 16,
            keep_logits: Sequence[int] | None = None, progress: bool = False) -> CaptureResult:
    """Run the model over prompts and return the pooled activations of the requested sites.

    ``keep_logits``: token ids whose final-position logits are also returned (answer labels).
    On CUDA out-of-memory the batch size halves and the batch is retried.
    """
    import torch

    model, tokenizer = loaded.model, loaded.tokenizer
    blocks = find_blocks(model)
    device = next(model.parameters()).device
    store: dict[tuple[str, int, str], list[np.ndarray]] = {
        (k, layer, pos): [] for k, layer in sites for pos in positions}
    ctx: dict[str, Any] = {}

    def make_hook(kind: str, layer: int):
        def hook(_module: Any, _inputs: Any, output: Any) -> None:
            h = _tensor_of(output)
            for pos in positions:
                if pos == "final":
                    idx = ctx["last"].to(h.device)
                    pooled = h[torch.arange(h.shape[0], device=h.device), idx]
                else:
                    m = ctx["stim"].to(h.device).unsqueeze(-1).to(h.dtype)
                    pooled = (h * m).sum(1) / m.sum(1).clamp(min=1)
                ctx["out"][(kind, layer, pos)] = pooled.detach().float().cpu().numpy()
        return hook

    handles = [sublayer(blocks[layer], kind).register_forward_hook(make_hook(kind, layer))
               for kind, layer in sites]
    logits_out: list[np.ndarray] = []
    causal = hasattr(model, "lm_head") or loaded.kind == "causal"
    extra = final_only_kwargs(model) if causal else {}
    pad = left_padding(tokenizer) if causal else None
    if pad is not None:
        pad.__enter__()
    try:
        from .._util.progress import progress_bar

        i = 0
        bs = batch_size
        bar = progress_bar(range(len(prompts)), desc="capture", unit="item") if progress else None
        while i < len(prompts):
            chunk = prompts[i:i + bs]
            enc = tokenize(tokenizer, chunk, device, model)
            mask = enc["batch"]["attention_mask"]
            ctx["last"] = last_token_index(mask)
            if "mean" in positions:
                if enc["offsets"] is None:
                    ctx["stim"] = mask.bool().cpu()
                else:
                    ctx["stim"] = stimulus_mask(enc["offsets"], mask, chunk)
            ctx["out"] = {}
            try:
                with torch.inference_mode():
                    out = model(**enc["batch"], **extra)
            except torch.cuda.OutOfMemoryError:
                if bs == 1:
                    raise
                torch.cuda.empty_cache()
                bs = max(1, bs // 2)
                continue
            for key, value in ctx["out"].items():
                store[key].append(value)
            if keep_logits is not None:
                logits = out.logits[:, -1]  # left-padded: the final token is last
                logits_out.append(logits[:, list(keep_logits)].float().cpu().numpy())
            if bar is not None and hasattr(bar, "update"):
                bar.update(len(chunk))
            i += len(chunk)
        if bar is not None and hasattr(bar, "close"):
            bar.close()
    finally:
        for h in handles:
            h.remove()
        if pad is not None:
            pad.__exit__()
    result = CaptureResult({k: np.concatenate(v) if v else np.zeros((0, 0), np.float32)
                            for k, v in store.items()})
    if keep_logits is not None:
        result.final_logits = np.concatenate(logits_out) if logits_out else None
    return result


# ---- on-disk cache ---------------------------------------------------------------------------

def cache_key(**parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def save_capture(path: Path, result: CaptureResult, metadata: dict[str, str]) -> None:
    """safetensors, written atomically (no pickle)."""
    from safetensors.numpy import save

    from .._util.atomic import atomic_write_bytes

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


def cached_capture(loaded: Any, prompts: Sequence[Prompt], sites: Sequence[tuple[str, int]],
                   positions: Sequence[str], key_parts: dict[str, Any], cache: Path | None,
                   batch_size: int = 16, keep_logits: Sequence[int] | None = None,
                   progress: bool = False) -> tuple[CaptureResult, bool]:
    """Capture, or load the identical earlier capture from ``cache``; returns (result, hit)."""
    key = cache_key(sites=sorted(sites), positions=sorted(positions),
                    prompts=hashlib.sha256("\x00".join(p.text for p in prompts).encode())
                    .hexdigest(), logits=list(keep_logits or []), **key_parts)
    path = cache / f"{key}.safetensors" if cache else None
    if path is not None and path.is_file():
        return load_capture(path), True
    result = capture(loaded, prompts, sites, positions, batch_size, keep_logits, progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_capture(path, result, {k: str(v) for k, v in key_parts.items()})
    return result, False
