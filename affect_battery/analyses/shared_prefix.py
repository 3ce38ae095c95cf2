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

import copy
import inspect
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
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


def returned_cache(output: Any) -> Any:
    """The KV cache a forward pass returned (``cache`` in transformers 5, before that
    ``past_key_values``; the old name is read only when the new one is absent)."""
    if "cache" in getattr(output, "keys", lambda: ())():
        return output["cache"]
    return getattr(output, "past_key_values", None)


def prefix_cache(model: Any, shared: Sequence[int], rows: int, device: Any,
                 context: Callable[[], AbstractContextManager[Any]] = nullcontext) -> Any:
    """The KV cache of the shared tokens, computed once (batch 1, inside ``context``: an edit
    of the model applies to the shared tokens too) and repeated for ``rows`` rows."""
    import torch

    ids = torch.tensor([list(shared)], device=device)
    with context(), torch.inference_mode():
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                    position_ids=torch.arange(ids.shape[1], device=device).unsqueeze(0),
                    use_cache=True)
    cache = returned_cache(out)
    if cache is None or not hasattr(cache, "crop"):
        raise RuntimeError("the model returned no croppable KV cache")
    if rows > 1:
        cache.batch_repeat_interleave(rows)
    return cache


def tail_inputs(split: SplitPrompts, rows: Sequence[int], cache: Any, device: Any,
                cache_kw: str) -> tuple[dict[str, Any], Encoded]:
    """Forward arguments for the tails of ``rows`` on ``cache`` (left-padded after the shared
    tokens) and the tails' :class:`Encoded` (mask and character offsets), for pooling."""
    import torch

    tails = [split.tails[r] for r in rows]
    width = max(len(t) for t in tails)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    offsets = torch.zeros((len(rows), width, 2), dtype=torch.long)
    for k, (r, tail) in enumerate(zip(rows, tails, strict=True)):
        pad = width - len(tail)
        ids[k, pad:] = torch.tensor(tail, dtype=torch.long)
        mask[k, pad:] = 1
        offsets[k, pad:] = torch.tensor(split.tail_offsets[r], dtype=torch.long)
    shared = len(split.shared)
    positions = shared + (mask.cumsum(-1) - 1).clamp(min=0)
    full_mask = torch.cat([torch.ones((len(rows), shared), dtype=torch.long), mask], dim=1)
    kwargs = {"input_ids": ids.to(device), "attention_mask": full_mask.to(device),
              "position_ids": positions.to(device), "use_cache": True, cache_kw: cache}
    return kwargs, Encoded({"attention_mask": mask.to(device)}, offsets)


def crop_to(cache: Any, length: int) -> None:
    """Cut every layer of ``cache`` back to its first ``length`` tokens (a pass stopped early,
    or one that replayed some blocks, leaves layers of different lengths)."""
    layers = getattr(cache, "layers", None)
    for layer in layers if layers is not None else [cache]:
        extra = layer.get_seq_length() - length
        if extra > 0:
            layer.crop(-extra)  # a negative count removes that many tokens


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
        if self._cache is None or self._rows != rows:
            self._cache = None  # free the old one before the new one is built
            self._cache = prefix_cache(self.model, self.split.shared, rows, self.device)
            self._rows = rows
        return self._cache

    def encode(self, rows: Sequence[int]) -> tuple[dict[str, Any], Encoded]:
        """Forward arguments for the tails of ``rows`` (the cache included) and the tails'
        :class:`Encoded` (mask and character offsets of the tail tokens only), for pooling."""
        return tail_inputs(self.split, rows, self._cache_for(len(rows)), self.device,
                           self.cache_kw)

    def done(self) -> None:
        """Drop the tail tokens the last batch appended to the cache."""
        if self._cache is not None:
            crop_to(self._cache, self.n_shared)

    def release(self) -> None:
        self._cache, self._rows = None, 0


def length_order(split: SplitPrompts) -> list[int]:
    """Row order by tail length, so each batch pads little (the result is put back in the
    prompts' order afterwards)."""
    return sorted(range(len(split.tails)), key=lambda r: (len(split.tails[r]), r))



# ---- edited runs (knockout, steering) on recorded clean tails ---------------------------------

@dataclass
class CleanTails:
    """Prompts split once and batched in their given order, with each batch's clean block
    outputs over the tails: what an edited run replays for the blocks before its edit.

    The shared opening is recorded the same way, once: its clean KV cache (batch 1) and its
    clean block outputs. An edited pass then computes the opening only from its first edited
    block on, and not at all when the edit leaves the opening as it is.

    Memory is blocks x prompts x tail tokens x hidden: about 55% of recording whole prompts
    under the two-shot preset.
    """

    split: SplitPrompts
    batches: list[list[int]]
    clean: list[dict[int, Any]]
    opening: dict[int, Any]
    opening_cache: Any


def _clean_opening(model: Any, shared: Sequence[int], layers: Sequence[int] | range,
                   device: Any) -> tuple[Any, dict[int, Any]]:
    """The shared opening's clean KV cache (batch 1) and the listed blocks' outputs over it."""
    from .hooks import record_blocks

    with record_blocks(model, layers) as rec:
        cache = prefix_cache(model, shared, 1, device)
    return cache, dict(rec)


def _repeated(cache: Any, rows: int) -> Any:
    """A copy of a batch-1 cache for ``rows`` rows: a pass appends its tail to the copy and
    leaves the recorded cache as it was."""
    out = copy.deepcopy(cache)
    if rows > 1:
        out.batch_repeat_interleave(rows)
    return out


def _layer_kv(cache: Any, layer: int) -> tuple[Any, Any]:
    """One layer's keys and values (transformers >= 4.56 keeps them in ``cache.layers``)."""
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return layers[layer].keys, layers[layer].values
    return cache.key_cache[layer], cache.value_cache[layer]


def record_clean_tails(loaded: Any, prompts: Sequence[Prompt], layers: Sequence[int] | range,
                       batch_size: int = 16) -> CleanTails | None:
    """Clean outputs of the listed blocks over each batch's tails (and once over the shared
    opening); None when the prompts share no opening worth caching or the model cannot take a
    cache (record whole prompts then)."""
    import torch

    from .hooks import record_blocks
    from .inputs import final_only_kwargs, model_device

    model = loaded.model
    if loaded.kind != "causal" or not supports_shared_prefix(model):
        return None
    split = split_prompts(loaded.tokenizer, prompts)
    if split is None:
        return None
    device, kw = model_device(model), cache_argument(model)
    extra = {k: v for k, v in final_only_kwargs(model).items() if k != "use_cache"}
    batches = [list(range(i, min(i + batch_size, len(prompts))))
               for i in range(0, len(prompts), batch_size)]
    opening_cache, opening = _clean_opening(model, split.shared, layers, device)
    clean = []
    for rows in batches:
        kwargs, _ = tail_inputs(split, rows, _repeated(opening_cache, len(rows)), device, kw)
        with record_blocks(model, layers) as rec, torch.inference_mode():
            model(**kwargs, **extra)
        clean.append(dict(rec))
        del kwargs
    return CleanTails(split, batches, clean, opening, opening_cache)


def _edited_opening(model: Any, tails: CleanTails, rows: int, device: Any,
                    edit: Callable[[], AbstractContextManager[Any]],
                    replay: Callable[[int], bool], opening_edited: bool) -> Any:
    """The opening's KV cache for an edited pass of ``rows`` rows.

    Unedited, it is the recorded clean cache. Edited, the blocks ``replay`` names return their
    clean outputs over the opening, and their layers of the cache are the clean keys and
    values: a block before the edit computes exactly what the clean pass computed.
    """
    from .hooks import replay_blocks

    if not opening_edited:
        return _repeated(tails.opening_cache, rows)
    replayed = {k: v for k, v in tails.opening.items() if replay(k)}
    with replay_blocks(model, replayed):
        cache = prefix_cache(model, tails.split.shared, 1, device, edit)
    for layer in sorted(replayed):  # a replayed block never wrote its layer of the cache
        cache.update(*_layer_kv(tails.opening_cache, layer), layer)
    if rows > 1:
        cache.batch_repeat_interleave(rows)
    return cache


@dataclass
class StoppedPass:
    """An edited pass stopped right after block ``block`` (:func:`edited_tail_pass` with
    ``stop_after``): that block's output for every row of the batch and the pass's KV cache,
    from which :func:`edited_tail_pass` with ``resume`` runs the remaining blocks for some
    rows only."""

    block: int
    output: Any
    cache: Any


class _Stop(Exception):
    """Raised by the hook that ends a pass after its block."""


def _rows_of(value: Any, keep: Any) -> Any:
    """A block output (tensor, or tuple led by one) restricted to the batch rows ``keep``."""
    from .hooks import first_tensor, with_first_tensor

    return with_first_tensor(value, first_tensor(value)[keep])


def edited_tail_pass(loaded: Any, tails: CleanTails, b: int,
                     edit: Callable[[], AbstractContextManager[Any]],
                     replay: Callable[[int], bool], reads: Sequence[Any] = (),
                     opening_edited: bool = True, *, stop_after: int | None = None,
                     keep: Sequence[int] | None = None, resume: StoppedPass | None = None
                     ) -> tuple[Any, Any]:
    """One batch of an edited run: the shared tokens under ``edit()`` (batch 1, repeated),
    then the tails under ``edit()``, with the blocks ``replay(layer)`` names returning their
    clean outputs instead of being computed. Returns the model's output (last-position logits
    only) and the final-token rows of the ``reads`` sites (tails are left-padded: the final
    token is the last position).

    ``opening_edited=False`` says the edit leaves the shared tokens as they are (a resample
    ablation permutes rows, and the opening runs as one row): its clean cache is used.

    Why the three keyword arguments: when only some rows need the final logits (knockout
    scores the logit difference on its clinical half; the neutral half only feeds a probe
    read at a middle block), the other rows need not run past that block. ``stop_after=B``
    ends the pass after block B and returns a :class:`StoppedPass` in place of the output.
    ``keep`` (positions in the batch) runs those rows only, for an edit that does not mix
    rows; with ``resume``, the blocks up to the stopped one return the stopped pass's
    outputs and the rows go on from there on its cache, without the edit (it already acted).
    Rows do not interact in a pass, so each row's numbers are those of the whole batch (up to
    float rounding: a smaller batch multiplies matrices of another shape).
    """
    import torch

    from .hooks import find_blocks, replay_blocks, trace
    from .inputs import final_only_kwargs, model_device

    model = loaded.model
    device = model_device(model)
    rows = tails.batches[b]
    n = len(rows) if keep is None else len(keep)
    index = None if keep is None else torch.as_tensor(list(keep), device=device)
    if resume is not None:
        cache = resume.cache
        crop_to(cache, len(tails.split.shared))  # the tails it appended, up to its stop
        if index is not None:
            cache.batch_select_indices(index)
    else:  # every row has the same opening: a cache for the rows that run
        cache = _edited_opening(model, tails, n, device, edit, replay, opening_edited)
    kwargs, _ = tail_inputs(tails.split, rows, cache, device, cache_argument(model))
    if index is not None:
        kwargs = {k: v[index] if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    extra = {k: v for k, v in final_only_kwargs(model).items() if k != "use_cache"}
    replayed = {k: v for k, v in tails.clean[b].items()
                if (k < resume.block if resume is not None else replay(k))}
    if resume is not None:
        replayed[resume.block] = resume.output
    if index is not None:
        replayed = {k: _rows_of(v, index) for k, v in replayed.items()}
    stopped: dict[str, Any] = {}

    def stop(_module: Any, _inputs: Any, output: Any) -> None:
        stopped["output"] = output
        raise _Stop

    def final(_site: Any, h: torch.Tensor) -> Any:
        return h[:, -1].float().cpu().numpy()
    handle = None
    try:
        with replay_blocks(model, replayed), \
                (edit() if resume is None else nullcontext()), \
                trace(model, reads, retain=final) as read, torch.inference_mode():
            if stop_after is not None:  # registered last: the reads of that block come first
                handle = find_blocks(model)[stop_after].register_forward_hook(stop)
            out = model(**kwargs, **extra)
    except _Stop:
        return StoppedPass(stop_after, stopped["output"], cache), read
    finally:
        if handle is not None:
            handle.remove()
    return out, read
