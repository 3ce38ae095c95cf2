"""``sweep``: many analyze runs (models x seeds x prompt presets) from one YAML file, compared.

Exit 0 when every job is finished, 1 when some job failed (the others still ran; the failures
are in OUT/manifest.json), 2 for an unusable sweep file or option (one line).
"""

from __future__ import annotations

import argparse

from .._util.extras import require
from ..analyses.sweep import Comparison, SweepSpec, compare, plan, run_sweep
from ..errors import EXIT_FINDINGS, EXIT_OK


def _print_comparison(comp: Comparison, root: str) -> None:
    print(f"comparison ({comp.metric}) written to {root}/comparison.csv, comparison.md, "
          "comparison.png")
    for r in comp.summary.itertuples(index=False):
        print(f"  {r.model} [{r.preset}]: best {comp.metric} {r.mean:.3f} "
              f"(min {r.min:.3f}, max {r.max:.3f}, {r.n_seeds} seed"
              f"{'s' if r.n_seeds != 1 else ''}) at relative depth "
              f"{r.mean_best_relative_depth:.2f}")
    if comp.missing:
        print(f"  not yet finished: {len(comp.missing)} job(s)")


def cmd_sweep(args: argparse.Namespace) -> int:
    """Load and validate the sweep file (every job's config is built here, so a mistake is
    one line before anything runs), then list, run or compare."""
    require("analyses", what="sweep")
    spec = SweepSpec.load(args.spec)
    root = str(spec.jobs(args.out)[0].folder.parent)
    if args.compare_only:
        _print_comparison(compare(spec, args.out, args.metric), root)
        return EXIT_OK
    if args.dry_run:
        planned = plan(spec, args.out, args.retry_failed)
        runs = sum(p.run for p in planned)
        print(f"{len(planned)} jobs in {root}/: {runs} would run, {len(planned) - runs} "
              "skipped")
        for p in planned:
            action = "run " if p.run else "skip"
            note = {"stale": " (results from another configuration)",
                    "failed": " (failed last time)"}.get(p.state, "")
            print(f"  {action} {p.job.name}: {p.state}{note}")
        return EXIT_OK
    outcome = run_sweep(spec, args.out, args.executor, args.retry_failed, args.metric,
                        echo=lambda line: print(line, flush=True))
    if outcome.comparison is not None:
        _print_comparison(outcome.comparison, root)
    if outcome.failed:
        print(f"{len(outcome.failed)} job(s) failed; see {root}/manifest.json "
              "(rerun with --retry-failed)")
        return EXIT_FINDINGS
    return EXIT_OK
