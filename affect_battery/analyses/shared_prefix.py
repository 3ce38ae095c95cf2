"""Run prompts that open with the same tokens once through that opening, then only through
their own tokens.

Why: under the ``two_shot`` preset every prompt starts with the same instruction and two
example stories, about 40% of its tokens. Attention is causal, so the keys and values of those
shared tokens are the same in every prompt; computing them once (a KV cache) and running each
prompt's own tail on top of it gives the same activations as a full pass (up to float
rounding; tested) at a fraction of the cost. Only the tail is traced, which is all the
analyses read: the final token and the stimulus tokens.

The split is made on tokens, not characters: the shared part is the longest token prefix
common to every prompt's own tokenisation (so a boundary a tokenizer would merge across is
never cut), stopped before the first stimulus token and before each prompt's last token.
Tails are left-padded after the shared part, with the attention mask hiding the pads and
position ids counting only real tokens, so every row's final token is the batch's last
position, as in a full left-padded pass.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .inputs import Encoded, accepts_position_ids
from .prompts import Prompt

MIN_SHARED_TOKENS = 8
"""A shorter common opening is not worth a cache (and the raw preset has none)."""


@dataclass
class SplitPrompts:
    """Prompts tokenised once: the shared opening's token ids and each prompt's tail."""

    shared: list[int]
    tails: list[list[int]]
    tail_offsets: list[list[tuple[int, int]]]


def split_prompts(tokenizer: Any, prompts: Sequence[Prompt],
                  min_shared: int = MIN_SHARED_TOKENS) -> SplitPrompts | None:
    """The shared token prefix of ``prompts`` and their tails; None when there is none worth
    caching (fewer than ``min_shared`` tokens), or the tokenizer gives no offsets."""
    if len(prompts) < 2 or not getattr(tokenizer, "is_fast", False):
        return None
    enc = tokenizer([p.text for p in prompts], return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    first = ids[0]
    n = len(first)
    for row, p, offs in zip(ids, prompts, offsets, strict=True):
        k = 0
        limit = min(n, len(row) - 1)  # every prompt keeps at least its final token
        while k < limit and row[k] == first[k]:
            k += 1
        # the stimulus's tokens are pooled, so they must be in the traced tail
        stim = next((i for i, (a, b) in enumerate(offs) if b > p.stimulus_start and b > a),
                    len(row))
        n = min(k, stim)
    if n < min_shared:
        return None
    return SplitPrompts(list(first[:n]), [list(r[n:]) for r in ids],
                        [[tuple(o) for o in offs[n:]] for offs in offsets])


def cache_argument(model: Any) -> str:
    """The forward argument that takes a KV cache (transformers 5 may call it ``cache``)."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def supports_shared_prefix(model: Any) -> bool:
    """Whether a model takes a KV cache, an explicit position per token, and can crop its
    cache back to the shared part (all Llama- and GPT-2-style models of transformers)."""
    params = inspect.signature(model.forward).parameters
    return (("past_key_values" in params or "cache" in params) and "use_cache" in params
            and accepts_position_ids(model))


def _returned_cache(output: Any) -> Any:
    """The KV cache a forward pass returned (``cache`` in transformers 5, before that
    ``past_key_values``; the old name is read only when the new one is absent)."""
    if "cache" in getattr(output, "keys", lambda: ())():
        return output["cache"]
    return getattr(output, "past_key_values", None)


class SharedPrefixRunner:
    """Runs batches of tails on one cached pass of the shared tokens.

    The cache is computed for a batch of a given size once and cropped back to the shared
    tokens after each batch; a batch of another size (the last one, or a retry after CUDA ran
    out of memory) recomputes it.
    """

    def __init__(self, model: Any, split: SplitPrompts, device: Any) -> None:
        self.model, self.split, self.device = model, split, device
        self.cache_kw = cache_argument(model)
        self._cache: Any = None
        self._rows = 0

    @property
    def n_shared(self) -> int:
        return len(self.split.shared)

    def _cache_for(self, rows: int) -> Any:
        import torch

        if self._cache is None or self._rows != rows:
            self._cache = None  # free the old one before the new one is built
            ids = torch.tensor([self.split.shared], device=self.device).expand(rows, -1)
            with torch.inference_mode():
                out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids),
                                 position_ids=torch.arange(ids.shape[1], device=self.device)
                                 .expand(rows, -1), use_cache=True)
            self._cache = _returned_cache(out)
            if self._cache is None or not hasattr(self._cache, "crop"):
                raise RuntimeError("the model returned no croppable KV cache")
            self._rows = rows
        return self._cache

    def encode(self, rows: Sequence[int]) -> tuple[dict[str, Any], Encoded]:
        """Forward arguments for the tails of ``rows`` (the cache included) and the tails'
        :class:`Encoded` (mask and character offsets of the tail tokens only), for pooling."""
        import torch

        tails = [self.split.tails[r] for r in rows]
        width = max(len(t) for t in tails)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        offsets = torch.zeros((len(rows), width, 2), dtype=torch.long)
        for k, (r, tail) in enumerate(zip(rows, tails, strict=True)):
            pad = width - len(tail)
            ids[k, pad:] = torch.tensor(tail, dtype=torch.long)
            mask[k, pad:] = 1
            offsets[k, pad:] = torch.tensor(self.split.tail_offsets[r], dtype=torch.long)
        shared = self.n_shared
        positions = shared + (mask.cumsum(-1) - 1).clamp(min=0)
        full_mask = torch.cat([torch.ones((len(rows), shared), dtype=torch.long), mask], dim=1)
        kwargs = {"input_ids": ids.to(self.device), "attention_mask": full_mask.to(self.device),
                  "position_ids": positions.to(self.device), "use_cache": True,
                  self.cache_kw: self._cache_for(len(rows))}
        return kwargs, Encoded({"attention_mask": mask.to(self.device)}, offsets)

    def done(self) -> None:
        """Drop the tail tokens the last batch appended to the cache."""
        if self._cache is not None:
            extra = self._cache.get_seq_length() - self.n_shared
            if extra > 0:
                self._cache.crop(-extra)  # a negative count removes that many tokens

    def release(self) -> None:
        self._cache, self._rows = None, 0


def length_order(split: SplitPrompts) -> list[int]:
    """Row order by tail length, so each batch pads little (the result is put back in the
    prompts' order afterwards)."""
    return sorted(range(len(split.tails)), key=lambda r: (len(split.tails[r]), r))

