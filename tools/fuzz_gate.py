"""A longer fuzz campaign against the gate CLI (the CI test is tests/test_fuzz_cli.py).

Runs the CI test's strategies for many more examples, never stopping at the first crash: every
example whose exit code is not 0, 1 or 2, whose stderr holds a traceback, or which raises, is
counted, and its input files and traceback are saved under --crashes for replay.

    .venv/bin/python tools/fuzz_gate.py --examples 5000 --seed 1 --crashes fuzz-crashes/
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_fuzz_cli import EXIT_CODES, input_files, options, run_gate_on


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--crashes", type=Path, default=Path("fuzz-crashes"),
                   help="folder for the inputs and tracebacks of crashing examples")
    args = p.parse_args(argv)

    codes: collections.Counter[int | str] = collections.Counter()
    crashes: list[str] = []

    @seed(args.seed)
    @settings(max_examples=args.examples, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(files=st.lists(input_files, min_size=1, max_size=2), extra=options)
    def campaign(files, extra):
        flat = [o for opt in extra for o in opt]
        problem = None
        try:
            code, _out, err = run_gate_on(files, flat)
            codes[code] += 1
            if code not in EXIT_CODES:
                problem = f"exit code {code!r}\n{err}"
            elif "Traceback" in err:
                problem = f"traceback on stderr (exit {code})\n{err}"
        except BaseException as exc:  # a crash is what we are counting
            if isinstance(exc, KeyboardInterrupt):
                raise
            codes["exception"] += 1
            problem = traceback.format_exc()
        if problem is not None:
            n = len(crashes)
            folder = args.crashes / f"crash-{n:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i, (suffix, data) in enumerate(files):
                (folder / f"new{i}{suffix}").write_bytes(data)
            (folder / "report.txt").write_text(f"options: {flat}\n{problem}", encoding="utf-8")
            crashes.append(problem.strip().splitlines()[-1] if problem.strip() else "?")

    start = time.monotonic()
    campaign()
    total = sum(codes.values())
    print(f"examples: {total}  seed: {args.seed}  time: {time.monotonic() - start:.0f}s")
    print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items(), key=str)))
    print(f"crashes: {len(crashes)}")
    for kind, count in collections.Counter(crashes).most_common():
        print(f"  {count} x {kind}")
    return 1 if crashes else 0


if __name__ == "__main__":
    raise SystemExit(main())
