"""``sae-train``: a small TopK SAE fitted offline, for ``analyze --methods sae``.

No pretrained SAE is reachable without the Hub, so this trains a demonstration dictionary on
the embedded model's activations over the battery and the classifier corpus, and saves it in
the sae-lens folder layout (``cfg.json`` and ``sae_weights.safetensors``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .._util.extras import require
from .._util.progress import progress_enabled, stage
from ..errors import EXIT_OK, UsageError


def cmd_sae_train(args: argparse.Namespace) -> int:
    """Capture, train, report, save; user mistakes are one line (exit 2)."""
    require("analyses", what="sae-train")
    from ..analyses.hooks import Site
    from ..analyses.models import load_model
    from ..analyses.sae.io import save_sae, site_of_hook
    from ..analyses.sae.train import TrainConfig, corpus_activations, fit
    from ..core.battery import battery_frame

    for name in ("k", "steps", "batch_size", "seed"):
        if getattr(args, name) < (0 if name == "seed" else 1):
            raise UsageError(f"--{name.replace('_', '-')} must be a positive integer")
    if args.max_texts is not None and args.max_texts < 1:
        raise UsageError("--max-texts must be a positive integer")
    if args.lr <= 0:
        raise UsageError("--lr must be positive")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    site = site_of_hook(args.hook) if args.hook else None
    loaded = load_model(args.model, args.device, "float32", args.trust_remote_code)
    if site is None:
        site = Site("resid", loaded.n_layers // 2)
    if site.layer >= loaded.n_layers:
        raise UsageError(f"--hook {site}: the model has {loaded.n_layers} layers")
    hidden = int(loaded.model.config.hidden_size)
    d_sae = args.d_sae or 8 * hidden
    if d_sae < args.k:
        raise UsageError(f"--d-sae {d_sae} must be at least --k {args.k}")
    stage(f"sae-train: capturing token activations at {site}")
    x, corpus = corpus_activations(loaded, site, battery_frame(), args.max_texts)
    cfg = TrainConfig(d_sae=d_sae, k=args.k, steps=args.steps, batch_size=args.batch_size,
                      lr=args.lr, seed=args.seed)
    stage(f"sae-train: training on {len(x)} tokens ({args.steps} steps)")
    sae, report = fit(x, cfg, progress_enabled())
    report["corpus"] = corpus
    save_sae(out, sae, site, args.model, {"trained_by": "affect-battery sae-train",
                                          "training": report})
    q = report["held_out"] or report["train"]
    print(f"SAE ({d_sae} latents, k={args.k}) of {args.model} at {site} written to {out}/")
    print(f"  tokens: {report['n_train_tokens']} train, {report['n_held_out_tokens']} held out")
    print(f"  held-out explained variance: {q['explained_variance']:.4f}, MSE {q['mse']:.5g}, "
          f"mean L0 {q['mean_l0']:.1f}")
    print(f"  dead latents (never fire on the training tokens): "
          f"{report['train']['dead_fraction']:.1%}")
    print("  a demonstration dictionary (small corpus, mostly the battery), not a "
          "research-grade SAE")
    return EXIT_OK
