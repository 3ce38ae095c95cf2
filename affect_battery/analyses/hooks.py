"""The one hook primitive of the analyses: named sites, ``trace()``, and the padding side.

Every method that reads or changes a model's internals (capture, exact and attribution patching,
knockout, steering) goes through :func:`trace`, in the spirit of baukit's ``Trace``: hooks are
registered on the named sites for the duration of a ``with`` block and are always removed, also
when the block raises, so a failed analysis can never leave a model silently edited. This is the
only module that calls ``register_forward_hook`` or swaps a module's forward
(:func:`replay_blocks`).

Sites print as ``blocks.3`` (the residual stream after block 3: the block's own output),
``blocks.3.attn`` (the attention sublayer's output, before it is added to the residual) and
``blocks.3.mlp`` (the MLP sublayer's output), and parse back from that text.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

from ..errors import ArchitectureError, UsageError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

SiteKind = Literal["resid", "attn", "mlp"]
SITE_KINDS: tuple[SiteKind, ...] = get_args(SiteKind)
_SITE_RE = re.compile(r"blocks\.(?P<layer>[0-9]+)(?:\.(?P<kind>attn|mlp))?")


@dataclass(frozen=True, order=True)
class Site:
    """One place in a model whose output can be read or edited: ``(kind, layer)``.

    Iterates as ``(kind, layer)`` so ``kind, layer = site`` works, and orders like that tuple.

    >>> str(Site("mlp", 3)), str(Site("resid", 3))
    ('blocks.3.mlp', 'blocks.3')
    >>> Site.parse("blocks.12.attn")
    Site(kind='attn', layer=12)
    """

    kind: SiteKind
    layer: int

    def __post_init__(self) -> None:
        if self.kind not in SITE_KINDS:
            raise UsageError(f"unknown site kind {self.kind!r}: use one of "
                             f"{', '.join(SITE_KINDS)}")
        try:
            layer = operator.index(self.layer)
        except TypeError:
            layer = -1
        if isinstance(self.layer, bool) or layer < 0:
            raise UsageError(f"site layer must be an integer >= 0, got {self.layer!r}")
        object.__setattr__(self, "layer", layer)  # numpy integers become plain ints

    def __str__(self) -> str:
        return f"blocks.{self.layer}" if self.kind == "resid" else \
            f"blocks.{self.layer}.{self.kind}"

    def __iter__(self) -> Iterator[Any]:
        yield self.kind
        yield self.layer

    @classmethod
    def parse(cls, text: str) -> Site:
        """The site a string such as ``blocks.3.mlp`` names (inverse of ``str``)."""
        m = _SITE_RE.fullmatch(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise UsageError(f"malformed site {text!r}: expected blocks.N (residual stream), "
                             "blocks.N.attn or blocks.N.mlp")
        return cls(m["kind"] or "resid", int(m["layer"]))

    @classmethod
    def of(cls, value: SiteLike) -> Site:
        """A site from a :class:`Site`, a ``(kind, layer)`` tuple, or its string form."""
        if isinstance(value, Site):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        try:
            kind, layer = value
        except (TypeError, ValueError):
            raise UsageError(f"not a site: {value!r}; give a Site, (kind, layer) or "
                             "'blocks.N.mlp'") from None
        return cls(kind, layer)


SiteLike: TypeAlias = "Site | tuple[str, int] | str"
Edit: TypeAlias = "Callable[[Site, torch.Tensor], torch.Tensor]"
Retain: TypeAlias = "bool | Callable[[Site, torch.Tensor], Any]"


# ---- the "output may be a tuple" convention ------------------------------------------------

def first_tensor(output: Any) -> torch.Tensor:
    """The hidden states of a module's output: Hugging Face blocks return a tuple whose first
    element they are (with attention weights or caches after it); sublayers return a tensor."""
    return output[0] if isinstance(output, tuple) else output


def with_first_tensor(output: Any, tensor: torch.Tensor) -> Any:
    """``output`` with its hidden states replaced, in the same shape (tuple or tensor)."""
    return (tensor, *output[1:]) if isinstance(output, tuple) else tensor


# ---- finding the modules of a site ---------------------------------------------------------

def find_blocks(model: torch.nn.Module, path: str | None = None) -> torch.nn.ModuleList:
    """The ModuleList of transformer blocks.

    Found automatically for Llama-, GPT-2-, BERT-style and most other models (the shallowest
    ModuleList as long as the config's layer count); ``path`` (e.g. ``"model.layers"``) names
    it explicitly for an architecture where that guess fails.
    """
    import torch

    if path is not None:
        try:
            module = model.get_submodule(path)
        except AttributeError:
            raise ArchitectureError(f"{type(model).__name__} has no module {path!r}") from None
        if not isinstance(module, torch.nn.ModuleList):
            raise ArchitectureError(f"{path!r} in {type(model).__name__} is a "
                                    f"{type(module).__name__}, not a list of blocks")
        return module
    config = getattr(model, "config", None)
    n = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    candidates = [(name.count("."), name, module) for name, module in model.named_modules()
                  if isinstance(module, torch.nn.ModuleList) and len(module) == n]
    if not candidates:
        raise ArchitectureError(f"no list of {n} blocks found in {type(model).__name__}: "
                                "name it with the blocks' module path, e.g. 'model.layers'")
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


def sublayer(block: torch.nn.Module, kind: SiteKind) -> torch.nn.Module:
    """The module of one block whose output is the given site kind."""
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


def site_module(blocks: torch.nn.ModuleList, site: Site) -> torch.nn.Module:
    if site.layer >= len(blocks):
        raise UsageError(f"site {site}: the model has {len(blocks)} blocks "
                         f"(0-{len(blocks) - 1})")
    return sublayer(blocks[site.layer], site.kind)


# ---- trace -----------------------------------------------------------------------------------

@dataclass
class Trace:
    """What a :func:`trace` retained: per site, from the latest forward pass, the output's
    hidden states after any edit (as is: not detached, not copied), or what ``retain`` made
    of them."""

    outputs: dict[Site, Any] = field(default_factory=dict)

    def __getitem__(self, site: SiteLike) -> Any:
        return self.outputs[Site.of(site)]


def _hook(site: Site, store: Trace, retain: Retain, edit: Edit | None) -> Callable[..., Any]:
    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        h = first_tensor(output)
        new = edit(site, h) if edit is not None else h
        if retain is True:
            store.outputs[site] = new
        elif callable(retain):
            store.outputs[site] = retain(site, new)
        return None if new is h else with_first_tensor(output, new)
    return hook


@contextmanager
def trace(model: torch.nn.Module, sites: Iterable[SiteLike], *, retain: Retain = True,
          edit: Edit | None = None, blocks_path: str | None = None) -> Iterator[Trace]:
    """Hook ``sites`` of ``model`` for the duration of the block; the hooks are always removed.

    ``edit(site, hidden)`` returns the hidden states the rest of the model sees (return the
    argument unchanged to leave a site alone). ``retain`` is True (keep each site's hidden
    states), False (keep nothing), or ``retain(site, hidden)``, whose value is kept instead:
    a reduction such as pooling keeps memory flat when every site of a large model is traced.
    Every site is resolved before any hook is registered, so a bad site registers nothing.
    Usage::

        with trace(model, [Site("mlp", 3)]) as t:
            model(**batch)
        hidden = t["blocks.3.mlp"]
    """
    resolved = [Site.of(s) for s in sites]
    store = Trace()
    modules = []
    if resolved:
        blocks = find_blocks(model, blocks_path)
        modules = [(site, site_module(blocks, site)) for site in resolved]
    handles = []
    try:
        for site, module in modules:
            handles.append(module.register_forward_hook(_hook(site, store, retain, edit)))
        yield store
    finally:
        for handle in handles:
            handle.remove()


# ---- record and replay block outputs --------------------------------------------------------

@contextmanager
def record_blocks(model: torch.nn.Module, layers: Iterable[int], *,
                  blocks_path: str | None = None) -> Iterator[dict[int, Any]]:
    """Keep each listed block's raw output (tensor or tuple, as the block returns it) from the
    latest forward pass inside the block, for :func:`replay_blocks`."""
    blocks = find_blocks(model, blocks_path)
    store: dict[int, Any] = {}
    handles = []

    def keep(layer: int) -> Callable[..., None]:
        def hook(_module: Any, _inputs: Any, output: Any) -> None:
            store[layer] = output
        return hook
    try:
        for layer in layers:
            handles.append(blocks[layer].register_forward_hook(keep(layer)))
        yield store
    finally:
        for handle in handles:
            handle.remove()


_MISSING = object()


@contextmanager
def replay_blocks(model: torch.nn.Module, outputs: dict[int, Any], *,
                  blocks_path: str | None = None) -> Iterator[None]:
    """Blocks listed in ``outputs`` return that recorded output instead of computing it.

    An edit at block L leaves blocks 0..L-1 as they were, so a run that edits block L can
    replay their clean outputs (recorded by :func:`record_blocks` on the *same* batch) and
    compute only from block L on: the same numbers for roughly half the cost, averaged over
    the layers. Forward hooks of replayed blocks still fire (an edit of a replayed block's
    output applies as usual). The block's own forward is restored on exit, also on an error;
    a batch whose shape differs from the recorded one raises instead of replaying stale values.
    """
    blocks = find_blocks(model, blocks_path)
    saved: list[tuple[torch.nn.Module, Any]] = []

    def constant(output: Any) -> Callable[..., Any]:
        shape = tuple(first_tensor(output).shape)

        def forward(hidden: Any = None, *_args: Any, **kwargs: Any) -> Any:
            h = hidden if hidden is not None else kwargs.get("hidden_states")
            if h is not None and tuple(h.shape) != shape:
                raise ArchitectureError(f"replayed block output has shape {shape}, but the "
                                        f"batch gives {tuple(h.shape)}: record the same batch")
            return output
        return forward
    try:
        for layer, output in outputs.items():
            block = blocks[layer]
            saved.append((block, block.__dict__.get("forward", _MISSING)))
            block.forward = constant(output)  # the instance attribute shadows the method
        yield
    finally:
        for block, forward in saved:
            if forward is _MISSING:
                del block.forward
            else:
                block.forward = forward


# ---- padding side ----------------------------------------------------------------------------

@contextmanager
def padding_side(tokenizer: PreTrainedTokenizerBase, side: Literal["left", "right"] = "left"
                 ) -> Iterator[PreTrainedTokenizerBase]:
    """Pad on ``side`` inside the block and restore the tokenizer's own side after, also on
    an exception. Left padding aligns every prompt's final token at position -1, which the
    final-token readouts, the prefix-cache patching and resample ablation rely on."""
    saved = tokenizer.padding_side
    tokenizer.padding_side = side
    try:
        yield tokenizer
    finally:
        tokenizer.padding_side = saved
