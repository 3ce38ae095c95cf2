"""``analyze``: the reference interpretability suite on one model."""

from __future__ import annotations

import argparse

from .._util.extras import require
from .._util.progress import progress_enabled
from ..analyses.config import METHODS
from ..analyses.suite import AnalyzeConfig, run_suite
from ..errors import EXIT_OK, UsageError

DEFAULT_METHODS = ",".join(METHODS)  # --methods left as is: sae runs only with --sae


def int_list(text: str | None) -> list[int] | None:
    """``--layers``: numbers and inclusive ranges, e.g. ``0,4,8`` or ``0-11``."""
    if not text:
        return None
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                span = list(range(int(a), int(b) + 1))
                if not span:
                    raise UsageError(f"--layers: {part!r} is an empty range")
                out += span
            elif part:
                out.append(int(part))
        except ValueError:
            raise UsageError(f"--layers: {part!r} is not a layer number or range") from None
    return out


def cmd_analyze(args: argparse.Namespace) -> int:
    """Build an AnalyzeConfig (validated at construction) and run the suite. User mistakes
    arrive as AffectBatteryError subclasses, which main() prints as one line; nothing broader
    is caught here, so a bug keeps its traceback."""
    require("analyses", what="analyze")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if args.methods != DEFAULT_METHODS and "sae" in methods and not args.sae:
        raise UsageError("--methods sae needs --sae FOLDER|RELEASE/ID (affect-battery "
                         "sae-train makes one offline)")
    splits = tuple(s.strip() for s in args.splits.split(",") if s.strip())
    cfg = AnalyzeConfig(model=args.model, out=args.out, methods=methods,
                        layers=int_list(args.layers), splits=splits, preset=args.preset,
                        device=args.device, device_map=args.device_map, dtype=args.dtype,
                        batch_size=args.batch_size,
                        seed=args.seed, patch_pairs=args.patch_pairs,
                        knockout_items=args.knockout_items, n_permutations=args.permutations,
                        use_cache=not args.no_cache, trust_remote_code=args.trust_remote_code,
                        max_items=args.max_items, progress=progress_enabled(),
                        battery=args.battery, battery_format=args.battery_format,
                        sae=args.sae, sae_hook=args.sae_hook, sae_top_k=args.sae_top_k,
                        sae_items=args.sae_items)
    results = run_suite(cfg)
    print(f"analyses of {args.model} written to {args.out}/")
    for k, v in results["headline"].items():
        print(f"  {k.replace('_', ' ')}: {v}")
    return EXIT_OK
