"""A sparse autoencoder in plain torch: encode, decode, the error term, and latent edits.

The same maths as sae-lens's inference SAEs (TopK, standard ReLU and JumpReLU, weights named
``W_enc [d_in, d_sae]``, ``b_enc``, ``W_dec [d_sae, d_in]``, ``b_dec``, ``threshold``), written
here because sae-lens cannot be installed beside the pinned stack of this project (it pulls
transformer-lens, wandb and a newer protobuf into the analyses' environment): see
:mod:`.io`, which reads and writes its folder layout.

``x == decode(encode(x)) + error(x)`` by construction; an ablation edits latents and adds the
error term back, so only the chosen latents' decoded contribution changes
(:meth:`SparseAutoencoder.edit_latents`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

from ...errors import UsageError

if TYPE_CHECKING:
    import torch

Architecture = Literal["topk", "standard", "jumprelu"]
ARCHITECTURES: tuple[Architecture, ...] = get_args(Architecture)


def new_sae(d_in: int, d_sae: int, k: int | None = 32, architecture: Architecture = "topk",
            apply_b_dec_to_input: bool = True, rescale_acts_by_decoder_norm: bool = False,
            seed: int = 0) -> SparseAutoencoder:
    """A freshly initialised SAE: unit-norm decoder rows, encoder = decoder transposed (the
    initialisation of Gao et al. 2024, which keeps TopK latents alive early in training)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    w_dec = torch.randn(d_sae, d_in, generator=gen)
    w_dec = w_dec / w_dec.norm(dim=1, keepdim=True)
    state = {"W_enc": w_dec.T.clone(), "b_enc": torch.zeros(d_sae), "W_dec": w_dec,
             "b_dec": torch.zeros(d_in)}
    if architecture == "jumprelu":
        state["threshold"] = torch.zeros(d_sae)
    return SparseAutoencoder(state, architecture, k, apply_b_dec_to_input,
                             rescale_acts_by_decoder_norm)


class SparseAutoencoder:
    """One SAE; calling it on ``x`` gives the reconstruction. Works on any leading shape.

    A plain object holding its tensors (not an ``nn.Module``), so this module imports without
    torch; :meth:`parameters` hands the tensors to an optimiser for training.
    """

    def __init__(self, state: dict[str, torch.Tensor], architecture: Architecture = "topk",
                 k: int | None = None, apply_b_dec_to_input: bool = True,
                 rescale_acts_by_decoder_norm: bool = False) -> None:
        if architecture not in ARCHITECTURES:
            raise UsageError(f"SAE architecture {architecture!r} is not supported: use one of "
                             f"{', '.join(ARCHITECTURES)}")
        missing = [n for n in ("W_enc", "b_enc", "W_dec", "b_dec") if n not in state]
        if architecture == "jumprelu" and "threshold" not in state:
            missing.append("threshold")
        if missing:
            raise UsageError(f"SAE weights lack {', '.join(missing)}")
        d_in, d_sae = state["W_enc"].shape
        if tuple(state["W_dec"].shape) != (d_sae, d_in) or state["b_enc"].shape[-1] != d_sae \
                or state["b_dec"].shape[-1] != d_in:
            raise UsageError("SAE weights have inconsistent shapes: W_enc "
                             f"{tuple(state['W_enc'].shape)}, W_dec "
                             f"{tuple(state['W_dec'].shape)}")
        if architecture == "topk" and (k is None or not 0 < int(k) <= d_sae):
            raise UsageError(f"a TopK SAE needs 0 < k <= d_sae ({d_sae}), got {k!r}")
        self.architecture = architecture
        self.k = int(k) if k is not None else None
        self.apply_b_dec_to_input = bool(apply_b_dec_to_input)
        self.rescale = bool(rescale_acts_by_decoder_norm)
        self.names = tuple(n for n in ("W_enc", "b_enc", "W_dec", "b_dec", "threshold")
                           if n in state)
        for name in self.names:
            setattr(self, name, state[name].detach().float().clone())

    def parameters(self) -> list[torch.Tensor]:
        return [getattr(self, n) for n in self.names]

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, n).detach().contiguous() for n in self.names}

    def to(self, device: Any) -> SparseAutoencoder:
        for n in self.names:
            setattr(self, n, getattr(self, n).to(device))
        return self

    @property
    def d_in(self) -> int:
        return int(self.W_enc.shape[0])

    @property
    def d_sae(self) -> int:
        return int(self.W_enc.shape[1])

    def pre_acts(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder pre-activations (before TopK, ReLU or the jump threshold)."""
        x = x.to(self.W_enc.dtype)
        if self.apply_b_dec_to_input:
            x = x - self.b_dec
        pre = x @ self.W_enc + self.b_enc
        return pre * self.W_dec.norm(dim=-1) if self.rescale else pre

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        pre = self.pre_acts(x)
        if self.architecture == "topk":
            vals, idx = torch.topk(pre, k=self.k, dim=-1, sorted=False)
            return torch.zeros_like(pre).scatter(-1, idx, vals.relu())
        if self.architecture == "jumprelu":
            return pre.relu() * (pre > self.threshold)
        return pre.relu()

    def _scaled(self, acts: torch.Tensor) -> torch.Tensor:
        return acts / self.W_dec.norm(dim=-1) if self.rescale else acts

    def decode(self, acts: torch.Tensor) -> torch.Tensor:
        return self._scaled(acts) @ self.W_dec + self.b_dec

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def error(self, x: torch.Tensor) -> torch.Tensor:
        """What the dictionary misses: ``x - decode(encode(x))``."""
        return x.to(self.W_enc.dtype) - self(x)

    def edit_latents(self, x: torch.Tensor, latents: Sequence[int],
                     values: torch.Tensor | float = 0.0) -> torch.Tensor:
        """``x`` rebuilt with ``latents`` set to ``values`` (0: zero ablation; their means:
        mean ablation) and the error term kept.

        ``decode(a') + error(x) = x + (a' - a) @ W_dec`` exactly in real arithmetic; the right
        side is what is computed, so only the edited latents' decoded contribution moves and
        no latents leave ``x`` untouched bit for bit.
        """
        import torch

        idx = torch.as_tensor(list(latents), dtype=torch.long, device=x.device)
        if idx.numel() == 0:
            return x + torch.zeros((), dtype=x.dtype, device=x.device)
        acts = self.encode(x)[..., idx]
        target = torch.as_tensor(values, dtype=acts.dtype, device=x.device)
        if target.ndim:
            target = target.expand_as(acts)
        delta = target - acts
        if self.rescale:
            delta = delta / self.W_dec[idx].norm(dim=-1)
        return x + (delta @ self.W_dec[idx]).to(x.dtype)

    def config(self) -> dict[str, Any]:
        return {"architecture": self.architecture, "d_in": self.d_in, "d_sae": self.d_sae,
                "k": self.k, "apply_b_dec_to_input": self.apply_b_dec_to_input,
                "rescale_acts_by_decoder_norm": self.rescale}
