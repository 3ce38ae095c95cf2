"""Analyses benchmarks on SmolLM2-135M, printed as ratios measured in one run.

1. Capture overhead: the same batches through a bare forward and through ``capture`` with every
   site (residual, attention and MLP outputs at all 30 layers, final token and stimulus mean).
   Target: at most 1.05x (issue #18; bench_peers.py sets it beside nnsight and TransformerLens).
2. Attribution vs exact patching over all layers and sites (90), clinical -> neutral pairs:
   exact re-running the whole prompt per site (``full``), exact with a reused prefix cache
   (``cached``), and attribution (one forward and backward). Target: attribution >= 10x faster
   than full exact patching.
3. Peak memory (RSS) of an ``affect-battery analyze`` process: ``--run-items N`` items
   (``--run-items 0`` for the whole battery).

Run: ``python benchmarks/bench_analyses.py [--items 32] [--pairs 4] [--run-items 16]``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np


def timed(fn, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=32)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--run-items", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()

    import torch

    from affect_battery.analyses.capture import capture
    from affect_battery.analyses.hooks import Site, padding_side
    from affect_battery.analyses.inputs import final_only_kwargs, tokenize
    from affect_battery.analyses.models import load_model
    from affect_battery.analyses.patching import PatchPairs, attribution_patching, exact_patching
    from affect_battery.analyses.prompts import build_prompt, label_token_ids
    from affect_battery.analyses.selection import LABEL_INDEX
    from affect_battery.core.battery import battery_frame
    from affect_battery.core.ids import parse_id, sibling_id

    loaded = load_model("smollm2-135m")
    frame = battery_frame()
    clinical = frame[frame["split"] == "clinical"].head(args.items)
    prompts = [build_prompt(t) for t in clinical["text"]]
    n = loaded.n_layers
    sites = [Site(k, layer) for layer in range(n) for k in ("resid", "attn", "mlp")]

    def bare() -> None:
        with padding_side(loaded.tokenizer, "left"):
            for i in range(0, len(prompts), args.batch_size):
                enc = tokenize(loaded.tokenizer, prompts[i:i + args.batch_size], "cpu",
                               loaded.model)
                with torch.inference_mode():
                    loaded.model(**enc.batch, **final_only_kwargs(loaded.model))

    def hooked() -> None:  # whole prompts: the hooks' own overhead over the same forward
        capture(loaded, prompts, sites, ("final", "mean"), args.batch_size,
                shared_prefix=False)

    def shared() -> None:  # the default: the two-shot opening once, through a KV cache
        capture(loaded, prompts, sites, ("final", "mean"), args.batch_size)

    bare()  # warm-up
    t_bare = timed(bare, 2)
    t_hook = timed(hooked, 2)
    t_shared = timed(shared, 2)
    print(f"capture overhead: bare forward {t_bare:.2f} s, capture of {len(sites)} sites x 2 "
          f"positions {t_hook:.2f} s on {len(prompts)} prompts -> {t_hook / t_bare:.3f}x "
          "(target <= 1.05x)")
    print(f"capture with the shared opening run once (the default): {t_shared:.2f} s -> "
          f"{t_shared / t_bare:.3f}x the bare forward of whole prompts")

    lids = list(label_token_ids(loaded.tokenizer).values())
    chosen = clinical["id"].tolist()[: args.pairs]
    neutrals = [sibling_id(c, "neutral") for c in chosen]
    by_id = frame.set_index("id")
    src = [build_prompt(by_id.at[c, "text"]) for c in chosen]
    tgt = [build_prompt(by_id.at[n, "text"]) for n in neutrals]
    pairs = PatchPairs("clinical_to_neutral", chosen, neutrals, src, tgt,
                       np.array([LABEL_INDEX[str(parse_id(c).emotion)] for c in chosen]),
                       np.array([LABEL_INDEX["none"]] * len(chosen)))
    acts = capture(loaded, src, sites)
    src_acts = {s: acts.at(s) for s in sites}
    t_full = timed(lambda: exact_patching(loaded, pairs, sites, src_acts, lids, mode="full"))
    t_cached = timed(lambda: exact_patching(loaded, pairs, sites, src_acts, lids,
                                            mode="cached"))
    t_attr = timed(lambda: attribution_patching(loaded, pairs, sites, src_acts, lids))
    print(f"patching {len(sites)} sites x {len(chosen)} pairs: exact (full recompute) "
          f"{t_full:.1f} s, exact (prefix cache) {t_cached:.1f} s, attribution {t_attr:.1f} s "
          f"-> attribution is {t_full / t_attr:.1f}x faster than full exact (target >= 10x), "
          f"{t_cached / t_attr:.1f}x vs cached exact")

    exe = shutil.which("affect-battery")
    cmd = [exe] if exe else [sys.executable, "-m", "affect_battery.cli"]
    with tempfile.TemporaryDirectory() as d:
        argv = [*cmd, "analyze", "--model", "smollm2-135m", "--out", f"{d}/run", "--no-cache"]
        if args.run_items:
            argv += ["--max-items", str(args.run_items)]
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    scope = "whole battery" if not args.run_items else f"--max-items {args.run_items}"
    status = "ok" if proc.returncode == 0 else f"failed: {proc.stderr.strip()[-300:]}"
    print(f"analyze run ({scope}): {wall:.0f} s, peak RSS {rss:.0f} MiB ({status})")


if __name__ == "__main__":
    main()
