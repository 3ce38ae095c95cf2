"""Relevance Patching (RelP): attribution patching with LRP propagation coefficients.

Attribution patching (AtP) scores a site by ``grad(LD) . (a_source - a_target)``. In deep,
normalised transformers the local gradient is a poor stand-in for the effect of a finite patch;
RelP (Jafari, Eberle, Khakzar and Nanda 2025, "RelP: Faithful and Efficient Circuit Discovery
via Relevance Patching", arXiv:2508.21258) keeps the same two forward passes and one backward
pass but takes the gradient through a backward pass modified by Layer-wise Relevance Propagation
rules, which the paper reports far more faithful to exact patching on MLP outputs and the
residual stream. The rules, as the paper applies them to transformers:

- LN-rule (normalisation layers): the division by the standard deviation / root mean square
  is treated as a constant, so the normalisation is linear in its input;
- AH-rule (attention): the attention weights are treated as constants, so relevance flows
  through the values only, never through queries and keys;
- identity rule (element-wise activations such as SiLU and GELU): the relevance passes the
  activation unchanged, i.e. the local coefficient is ``act(x) / x`` instead of ``act'(x)``;
- half rule (multiplicative gates such as SwiGLU's ``act(gate) * up``): each factor receives
  half of the product's relevance;
- LRP-0 everywhere else (linear layers, embeddings, residual additions): the plain gradient.

On SmolLM2's final-token patching plain AtP is already close to exact patching and RelP is
not: the AH-rule drops the path through the final token's own query and the half rule halves
every path through a gated MLP (CHANGELOG, #18 item 2), so both methods are reported.

Each rule keeps relevance ``x . grad`` conserved where there is no bias (tested on a whole
tiny Llama: the input relevance sums to the output logit). Every rule is written as an autograd
function whose forward pass *is* the module's own forward pass, so a model under the rules
computes bit-for-bit the same activations and logits, and the clean activations RelP reads are
the ones AtP reads; only the backward pass changes.

Why this is written here rather than with ``lxt`` (LRP-eXplains-Transformers, the maintained
LRP library for transformers): ``pip install --dry-run lxt`` (lxt 2.1) would replace the
pinned torch and pull in CUDA wheels, and lxt applies its rules by monkey-patching the modules
of ``transformers.models.*`` for a given transformers release, process-wide. The rules above
are short, and here they are installed on one model instance for the duration of a ``with``
block and always removed (:func:`lrp_rules`), in the same spirit as :func:`.hooks.trace`: the
sublayers' ``forward`` attributes are replaced on the instances (a reversible patch, not a
forward hook; :mod:`.hooks` stays the only module that registers hooks), and attention weights
are held constant by a torch-function mode active only inside the transformer blocks, so the
rule works for eager and SDPA attention alike without editing any transformers code.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

import numpy as np

from ..errors import ArchitectureError, UsageError
from .hooks import Site, find_blocks
from .models import LoadedModel
from .patching import PatchPairs, attribution_patching

if TYPE_CHECKING:
    import torch

K = TypeVar("K", bound="Site | tuple[str, int]")
AttributionMethod = Literal["atp", "relp"]
Rule = Literal["norm", "attention", "activation", "gate"]
RULE_NAMES: tuple[Rule, ...] = get_args(Rule)
ATTRIBUTION_METHODS: tuple[AttributionMethod, ...] = get_args(AttributionMethod)

# element-wise activations the identity rule applies to (act(0) = 0, so act(x)/x is bounded);
# matched on the class name of transformers' and torch's activation modules
_ACTIVATIONS = ("silu", "swish", "gelu", "relu", "mish", "tanh")
RULES = ("LN-rule (normalisation scale constant), AH-rule (attention weights constant), "
         "identity rule (element-wise activations), half rule (multiplicative gates), LRP-0 "
         "elsewhere; Jafari et al. 2025, arXiv:2508.21258")
_EPS = 1e-12  # keeps act(x)/x finite at x == 0 (where the relevance is zero anyway)


@dataclass
class RuleCounts:
    """How many modules each rule was installed on, and how many attention-weight computations
    were held constant in the forward passes run under the rules (checked after each pass)."""

    norm: int = 0
    activation: int = 0
    gate: int = 0
    attention_blocks: int = 0
    attention_calls: int = 0
    unmodified_norms: list[str] = field(default_factory=list)


# ---- the rules as autograd functions ---------------------------------------------------------

def _functions() -> dict[str, Any]:
    """The rule functions, built on first use (torch is imported inside functions only)."""
    if _FUNCTIONS:
        return _FUNCTIONS
    import torch

    class ModifiedBackward(torch.autograd.Function):
        """``y = forward(x)`` exactly; the backward pass is ``vjp(x, y, grad_y)``."""

        @staticmethod
        def forward(ctx: Any, x: torch.Tensor, forward: Callable[[torch.Tensor], torch.Tensor],
                    vjp: Callable[..., torch.Tensor]) -> torch.Tensor:
            y = forward(x)
            ctx.save_for_backward(x, y)
            ctx.vjp = vjp
            return y

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> Any:
            x, y = ctx.saved_tensors
            return ctx.vjp(x, y, grad), None, None

    class HalfProduct(torch.autograd.Function):
        """``a * b`` exactly; each factor receives half of the product's relevance."""

        @staticmethod
        def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> Any:
            a, b = ctx.saved_tensors
            return 0.5 * grad * b, 0.5 * grad * a

    _FUNCTIONS.update(modified=ModifiedBackward, half=HalfProduct)
    return _FUNCTIONS


_FUNCTIONS: dict[str, Any] = {}


def _identity_vjp(x: torch.Tensor, y: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Identity rule: coefficient act(x)/x, so x * coefficient * grad == y * grad."""
    import torch

    safe = torch.where(x.abs() > _EPS, x, torch.full_like(x, _EPS))
    return grad * torch.where(x.abs() > _EPS, y / safe, torch.zeros_like(y))


def _wide(t: torch.Tensor) -> torch.Tensor:
    """At least float32, as the models compute their norms (float64 stays float64)."""
    import torch

    return t.to(torch.promote_types(t.dtype, torch.float32))


def _rms_vjp(weight: torch.Tensor | None, eps: float) -> Callable[..., torch.Tensor]:
    """LN-rule for RMSNorm ``w * x / rms(x)``: rms(x) constant, so the coefficient is w/rms."""
    def vjp(x: torch.Tensor, _y: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        import torch

        xf, g = _wide(x), _wide(grad)
        scale = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
        g = g * (_wide(weight) if weight is not None else 1.0)
        return (g * scale).to(x.dtype)
    return vjp


def _layer_norm_vjp(weight: torch.Tensor | None, eps: float, n_dims: int
                    ) -> Callable[..., torch.Tensor]:
    """LN-rule for LayerNorm ``w * (x - mean) / std + b``: std constant, centring kept."""
    def vjp(x: torch.Tensor, _y: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        import torch

        dims = tuple(range(-n_dims, 0))
        xf = _wide(x)
        scale = torch.rsqrt(xf.var(dim=dims, unbiased=False, keepdim=True) + eps)
        g = _wide(grad) * (_wide(weight) if weight is not None else 1.0) * scale
        return (g - g.mean(dim=dims, keepdim=True)).to(x.dtype)
    return vjp


# ---- which modules get which rule ------------------------------------------------------------

def _norm_vjp(module: torch.nn.Module) -> Callable[..., torch.Tensor] | None:
    """The LN-rule backward for a normalisation module, or None when it is not one we know
    the arithmetic of (LayerNorm, and RMSNorms of the ``weight * x / rms`` form)."""
    import torch

    if isinstance(module, torch.nn.LayerNorm):
        return _layer_norm_vjp(module.weight, module.eps, len(module.normalized_shape))
    # Gemma's RMSNorm scales by (1 + weight): not this form, so it keeps its plain gradient
    if type(module).__name__.endswith("RMSNorm") and "Gemma" not in type(module).__name__:
        eps = getattr(module, "variance_epsilon", getattr(module, "eps", None))
        if isinstance(eps, float):
            return _rms_vjp(getattr(module, "weight", None), eps)
    return None


def _is_norm(module: torch.nn.Module) -> bool:
    import torch

    name = type(module).__name__
    return isinstance(module, torch.nn.LayerNorm) or name.endswith(("Norm", "LayerNorm"))


def _is_activation(module: torch.nn.Module) -> bool:
    """An element-wise activation module of transformers or torch (no parameters)."""
    origin = type(module).__module__
    if not (origin.startswith("transformers.activations")
            or origin.startswith("torch.nn.modules.activation")):
        return False
    name = type(module).__name__.lower()
    return any(a in name for a in _ACTIVATIONS) and not any(True for _ in module.parameters())


def _is_gated_mlp(module: torch.nn.Module) -> bool:
    """A SwiGLU/GeGLU MLP of the Llama form: ``down(act(gate(x)) * up(x))``."""
    return (type(module).__name__.endswith("MLP")
            and all(hasattr(module, a) for a in ("gate_proj", "up_proj", "down_proj", "act_fn")))


# ---- installing and removing the rules -------------------------------------------------------

def _replace_forward(stack: ExitStack, module: torch.nn.Module,
                     forward: Callable[..., Any]) -> None:
    """Set ``module.forward`` on the instance; the exit stack restores what was there."""
    had = "forward" in module.__dict__
    saved = module.__dict__.get("forward")

    def restore() -> None:
        if had:
            module.forward = saved
        else:
            del module.forward

    module.forward = forward
    stack.callback(restore)


def _with_rule(module: torch.nn.Module, vjp: Callable[..., torch.Tensor]) -> Callable[..., Any]:
    original = module.forward
    modified = _functions()["modified"]

    def forward(x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:  # an unusual call: leave it alone rather than guess
            return original(x, *args, **kwargs)
        return modified.apply(x, original, vjp)
    return forward


def _gated_forward(module: torch.nn.Module) -> Callable[..., Any]:
    half = _functions()["half"]

    def forward(x: torch.Tensor) -> torch.Tensor:
        # the same operations, in the same order, as the Llama-style MLP's own forward
        return module.down_proj(half.apply(module.act_fn(module.gate_proj(x)),
                                           module.up_proj(x)))
    return forward


def _constant_attention_mode(counts: RuleCounts) -> Any:
    """A torch-function mode in which attention weights carry no gradient.

    Eager attention computes its weights with a softmax (detached here); SDPA computes them
    inside one kernel, which is called with the queries and keys detached. Either way the
    values and the output are unchanged and the gradient reaches the values only.
    """
    import torch
    from torch.overrides import TorchFunctionMode

    softmaxes = {torch.nn.functional.softmax, torch.softmax, torch.Tensor.softmax}
    sdpa = torch.nn.functional.scaled_dot_product_attention

    class ConstantAttention(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (),
                               kwargs: dict[str, Any] | None = None) -> Any:
            kwargs = dict(kwargs or {})
            if func in softmaxes:
                counts.attention_calls += 1
                return func(*args, **kwargs).detach()
            if func is sdpa:
                counts.attention_calls += 1
                args = list(args)
                for i, name in ((0, "query"), (1, "key")):
                    if len(args) > i:
                        args[i] = args[i].detach()
                    elif name in kwargs:
                        kwargs[name] = kwargs[name].detach()
                return func(*args, **kwargs)
            return func(*args, **kwargs)

    return ConstantAttention()


def _block_forward(block: torch.nn.Module, counts: RuleCounts) -> Callable[..., Any]:
    original = block.forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        with _constant_attention_mode(counts):
            return original(*args, **kwargs)
    return forward


@contextmanager
def lrp_rules(model: torch.nn.Module, blocks_path: str | None = None,
              rules: Collection[Rule] = RULE_NAMES) -> Iterator[RuleCounts]:
    """Install RelP's LRP rules on ``model`` for the duration of the block; always removed.

    Forward passes inside the block compute exactly what the model computes outside it; only
    gradients change (see the module docstring for the rules). Yields the
    :class:`RuleCounts` of what was modified. Modules are found by type and duck typing:
    ``LayerNorm`` and Llama-style ``*RMSNorm`` (other norms are listed in
    ``unmodified_norms`` and keep their plain gradient), transformers' and torch's element-wise
    activation modules, Llama-style gated MLPs (``gate_proj``/``up_proj``/``down_proj``/
    ``act_fn``) and the attention inside every block that :func:`.hooks.find_blocks` finds.
    ``rules`` names a subset of :data:`RULE_NAMES` (to ablate one rule); the default is all.
    """
    bad = set(rules) - set(RULE_NAMES)
    if bad:
        raise UsageError(f"unknown LRP rule {', '.join(sorted(bad))}: use "
                         f"{', '.join(RULE_NAMES)}")
    counts = RuleCounts()
    with ExitStack() as stack:
        for module in model.modules():
            if _is_gated_mlp(module):
                if "gate" in rules:
                    _replace_forward(stack, module, _gated_forward(module))
                    counts.gate += 1
            elif _is_activation(module):
                if "activation" in rules:
                    _replace_forward(stack, module, _with_rule(module, _identity_vjp))
                    counts.activation += 1
            elif _is_norm(module) and "norm" in rules:
                vjp = _norm_vjp(module)
                if vjp is None:
                    counts.unmodified_norms.append(type(module).__name__)
                    continue
                _replace_forward(stack, module, _with_rule(module, vjp))
                counts.norm += 1
        try:
            blocks = find_blocks(model, blocks_path) if "attention" in rules else None
        except ArchitectureError:
            blocks = None
        for block in blocks or ():
            _replace_forward(stack, block, _block_forward(block, counts))
            counts.attention_blocks += 1
        yield counts


# ---- attribution with either method ----------------------------------------------------------

def attribution(loaded: LoadedModel, pairs: PatchPairs, sites: Sequence[K],
                source_acts: dict[K, np.ndarray], label_ids: Sequence[int],
                batch_size: int = 8, method: AttributionMethod = "atp",
                final_only: bool = True) -> dict[K, np.ndarray]:
    """Per pair and site, ``coefficient . (a_source - a_target)`` at the final position.

    ``method="atp"``: the coefficient is the plain gradient of the logit difference
    (:func:`.patching.attribution_patching`); ``method="relp"``: the same pass under
    :func:`lrp_rules`. Same layout as AtP: one array of scores over the pairs per site.
    ``final_only``: see :func:`.patching.attribution_patching` (same scores, less work).
    """
    if method not in ATTRIBUTION_METHODS:
        raise UsageError(f"unknown attribution method {method!r}: use "
                         f"{', '.join(ATTRIBUTION_METHODS)}")
    if method == "atp":
        return attribution_patching(loaded, pairs, sites, source_acts, label_ids, batch_size,
                                    final_only)
    with lrp_rules(loaded.model) as counts:
        scores = attribution_patching(loaded, pairs, sites, source_acts, label_ids, batch_size,
                                      final_only)
    if counts.attention_blocks and not counts.attention_calls:
        raise ArchitectureError(
            f"RelP found no attention weights to hold constant in {type(loaded.model).__name__}"
            " (an attention kernel that is neither eager nor SDPA): load the model with "
            "attn_implementation='eager'")
    return scores
