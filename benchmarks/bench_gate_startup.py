"""Gate start-up: a whole ``affect-battery gate`` process on a 2-item file, side by side with
``python -c "import pandas, pandera.pandas, pyarrow"`` (the floor the gate cannot go below).

The commands run alternately in one run, several repetitions each; the medians and their ratio
are printed (the target is a ratio of at most 1.3), with the minimum wall times and the median
CPU times beside them. Untimed warm-up runs come first so the OS
file cache is warm for every command alike.

Run: ``python benchmarks/bench_gate_startup.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.3
FLOOR = [sys.executable, "-c", "import pandas, pandera.pandas, pyarrow"]
WORDS = ("table window garden ladder kettle bicycle notebook bucket lantern carpet drawer shelf "
         "bench market station harbour library kitchen corridor envelope basket hammer parcel "
         "carried moved opened closed lifted counted sorted painted measured folded").split()


def two_items() -> list[dict]:
    """A clean clinical/neutral pair (six sentences of plain words, one word swapped)."""
    rng = random.Random(0)
    clinical = " ".join(f"Velric {' '.join(rng.choice(WORDS) for _ in range(14))}."
                        for _ in range(6))
    neutral = clinical.replace(" table", " shelf", 1).replace(" kettle", " bucket", 1)
    return [{"id": "C-anger-d5-9", "text": clinical}, {"id": "N-anger-d5-9", "text": neutral}]


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode == 2:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "two.jsonl"
        path.write_text("".join(json.dumps(it) + "\n" for it in two_items()), encoding="utf-8")
        gate = [sys.executable, "-m", "affect_battery", "gate", str(path)]
        gate_nb = [*gate, "--no-battery"]
        for argv in (FLOOR, gate, gate_nb):  # warm the OS file cache
            timed(argv)
        runs: dict[str, list[tuple[float, float]]] = {"floor": [], "gate": [],
                                                       "gate_no_battery": []}
        for _ in range(args.repeats):
            runs["floor"].append(timed(FLOOR))
            runs["gate"].append(timed(gate))
            runs["gate_no_battery"].append(timed(gate_nb))
    # Medians are the figure; minimums and CPU time are printed beside them because a shared
    # machine's speed drifts (other tenants, clock): the cheapest run of each command is the
    # least disturbed, and CPU time does not count time spent waiting for a core.
    print(f"{args.repeats} interleaved repetitions; median wall, min wall, median CPU:")
    floor = _stats(runs["floor"])
    print(f"  import pandas, pandera.pandas, pyarrow  {floor[0]:.3f} s  {floor[1]:.3f} s  "
          f"{floor[2]:.3f} s")
    for key, label in (("gate", "gate, 2 items, with battery"),
                       ("gate_no_battery", "gate, 2 items, --no-battery")):
        st = _stats(runs[key])
        ratios = [a / b for a, b in zip(st, floor, strict=True)]
        verdict = "ok" if ratios[0] <= TARGET else f"over the {TARGET}x target"
        print(f"  {label:<38} {st[0]:.3f} s  {st[1]:.3f} s  {st[2]:.3f} s  ratios "
              f"{ratios[0]:.2f}x / {ratios[1]:.2f}x / {ratios[2]:.2f}x (median wall: {verdict})")


def _stats(samples: list[tuple[float, float]]) -> tuple[float, float, float]:
    walls = [w for w, _ in samples]
    return statistics.median(walls), min(walls), statistics.median(c for _, c in samples)

if __name__ == "__main__":
    main()
