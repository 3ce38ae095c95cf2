"""Training a small TopK SAE on token activations, and the figures that say how good it is.

The offline path of the SAE analysis: no pretrained dictionary is reachable here, so
``affect-battery sae-train`` fits one on a few hundred thousand tokens of the embedded model.
The recipe is the TopK SAE of Gao et al. (2024, "Scaling and evaluating sparse autoencoders"):
decoder rows kept at unit norm, encoder initialised as the decoder's transpose, the decoder
bias at the data mean, an auxiliary TopK loss on the dead latents (AuxK) so fewer die, and
Adam. Every random draw (initialisation, batch order) comes from ``seed``.

Such an SAE is a demonstration of the method, not a research-grade dictionary: it has seen
a tiny corpus, most of it the battery itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...core.constants import SPLITS
from ...core.jsonl import iter_jsonl
from ...core.paths import package_data_dir
from ..hooks import Site
from ..models import LoadedModel
from ..prompts import build_prompt
from ..selection import select_items
from .tokens import token_activations
from .topk import SparseAutoencoder, new_sae

HELD_OUT = 0.05  # tokens kept out of training to measure reconstruction


def classifier_corpus() -> list[str]:
    """The texts of the shipped classifier's training corpus (explicit emotion sentences:
    the words the battery avoids, so the dictionary has seen them)."""
    path = package_data_dir() / "classifier" / "train.jsonl"
    return [str(obj["text"]) for _, obj in iter_jsonl(path) if isinstance(obj.get("text"), str)]


def corpus_activations(loaded: LoadedModel, site: Site, frame: pd.DataFrame,
                       max_texts: int | None = None, batch_size: int = 16
                       ) -> tuple[np.ndarray, dict[str, int]]:
    """Token activations at ``site``: the battery's items inside the analysis prompt
    (stimulus tokens and the final token, as the analysis reads them) and the classifier
    corpus as plain text (every token but the first)."""
    preset = "two_shot" if loaded.kind == "causal" else "raw"
    if max_texts is not None:  # whole scenarios spread over the emotions, as analyze does
        frame = select_items(frame, SPLITS, max(1, max_texts // 2)).head(max_texts)
    items = list(frame["text"])
    extra = classifier_corpus()[:max_texts]
    a = token_activations(loaded, [build_prompt(t, preset) for t in items], site, batch_size,
                          stimulus_only=True, with_final=loaded.kind == "causal")
    b = token_activations(loaded, [build_prompt(t, "raw") for t in extra], site, batch_size,
                          stimulus_only=False)
    return np.concatenate([a.acts, b.acts]), {"battery_items": len(items),
                                              "battery_tokens": len(a.acts),
                                              "corpus_texts": len(extra),
                                              "corpus_tokens": len(b.acts)}


@dataclass(frozen=True)
class TrainConfig:
    d_sae: int = 4608
    k: int = 32
    steps: int = 3000
    batch_size: int = 512
    lr: float = 5e-4
    aux_k: int = 256  # latents the AuxK loss lets the dead ones use
    aux_coef: float = 1 / 32
    dead_after: int = 500  # steps without firing after which a latent counts as dead (AuxK)
    seed: int = 0


@dataclass
class Quality:
    """Reconstruction figures on a set of activations (held out where possible)."""

    mse: float  # mean over tokens and dimensions of (x - x_hat)^2
    explained_variance: float  # 1 - sum (x - x_hat)^2 / sum (x - mean x)^2
    dead_fraction: float  # latents that never fire on these activations
    mean_l0: float  # latents firing per token
    n_tokens: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def quality(sae: SparseAutoencoder, x: np.ndarray, batch_size: int = 4096) -> Quality:
    """MSE, explained variance, dead fraction and mean L0 of ``sae`` on activations ``x``."""
    import torch

    sq_err, fired, l0 = 0.0, torch.zeros(sae.d_sae, dtype=torch.bool), 0.0
    xt_all = torch.from_numpy(np.asarray(x, np.float32))
    with torch.no_grad():
        for i in range(0, len(xt_all), batch_size):
            xt = xt_all[i:i + batch_size]
            acts = sae.encode(xt)
            sq_err += float(((xt - sae.decode(acts)) ** 2).sum())
            active = acts > 0
            fired |= active.any(0)
            l0 += float(active.sum())
    n, d = xt_all.shape
    total = float(((xt_all - xt_all.mean(0)) ** 2).sum())
    return Quality(mse=sq_err / max(1, n * d), explained_variance=1 - sq_err / total
                   if total > 0 else float("nan"), dead_fraction=float((~fired).float().mean()),
                   mean_l0=l0 / max(1, n), n_tokens=int(n))


def train_sae(x: np.ndarray, cfg: TrainConfig = TrainConfig(), progress: bool = False
              ) -> tuple[SparseAutoencoder, list[float]]:
    """Fit a TopK SAE to the rows of ``x``; returns it and the loss every 100 steps."""
    import torch

    torch.manual_seed(cfg.seed)
    data = torch.from_numpy(np.asarray(x, np.float32))
    n, d_in = data.shape
    sae = new_sae(d_in, cfg.d_sae, cfg.k, seed=cfg.seed)
    sae.b_dec = data.mean(0).clone()  # the decoder bias starts at the data's mean
    params = sae.parameters()
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    since_fired = torch.zeros(cfg.d_sae, dtype=torch.long)
    var = float(((data - data.mean(0)) ** 2).sum(1).mean())
    losses: list[float] = []
    bar = None
    if progress:
        from ..._util.progress import progress_bar

        bar = progress_bar(range(cfg.steps), desc="sae-train", unit="step")
    for step in range(cfg.steps):
        xb = data[torch.randint(0, n, (min(cfg.batch_size, n),), generator=gen)]
        pre = sae.pre_acts(xb)
        vals, idx = torch.topk(pre, cfg.k, dim=-1)
        vals = vals.relu()
        acts = torch.zeros_like(pre).scatter(-1, idx, vals)
        recon = acts @ sae.W_dec + sae.b_dec
        err = xb - recon
        loss = (err ** 2).sum(1).mean() / var
        fired = torch.zeros(cfg.d_sae, dtype=torch.bool)
        fired[idx[vals > 0]] = True
        since_fired = torch.where(fired, 0, since_fired + 1)
        dead = since_fired > cfg.dead_after
        if dead.any() and cfg.aux_coef > 0:  # AuxK: dead latents model what the live ones miss
            k_aux = min(cfg.aux_k, int(dead.sum()))
            dpre = pre.masked_fill(~dead, float("-inf"))
            avals, aidx = torch.topk(dpre, k_aux, dim=-1)
            aux = torch.zeros_like(pre).scatter(-1, aidx, avals.relu()) @ sae.W_dec
            loss = loss + cfg.aux_coef * ((err.detach() - aux) ** 2).sum(1).mean() / var
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():  # keep gradient steps from changing decoder norms, then renorm
            w, g = sae.W_dec, sae.W_dec.grad
            if g is not None:
                g -= (g * w).sum(1, keepdim=True) * w
        opt.step()
        with torch.no_grad():
            sae.W_dec /= sae.W_dec.norm(dim=1, keepdim=True).clamp(min=1e-8)
        if step % 100 == 0 or step == cfg.steps - 1:
            losses.append(float(loss.detach()))
        if bar is not None and hasattr(bar, "update"):
            bar.update(1)
    if bar is not None and hasattr(bar, "close"):
        bar.close()
    for p in params:
        p.requires_grad_(False)
    return sae, losses


def fit(x: np.ndarray, cfg: TrainConfig, progress: bool = False
        ) -> tuple[SparseAutoencoder, dict[str, Any]]:
    """Train on all but a seeded ``HELD_OUT`` share of the rows; the report has the
    reconstruction figures on the held-out rows and on the training rows."""
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(x))
    n_test = max(1, round(HELD_OUT * len(x))) if len(x) > 1 else 0
    test, train = x[order[:n_test]], x[order[n_test:]]
    sae, losses = train_sae(train, cfg, progress)
    return sae, {"config": asdict(cfg), "n_train_tokens": len(train),
                 "n_held_out_tokens": len(test),
                 "held_out": quality(sae, test).to_dict() if len(test) else None,
                 "train": quality(sae, train).to_dict(),
                 "loss_every_100_steps": [round(v, 5) for v in losses]}
