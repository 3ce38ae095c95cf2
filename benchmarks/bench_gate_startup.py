"""Gate start-up: a whole ``affect-battery gate`` process on a 2-item file, side by side with
``python -c "import pandas, pandera.pandas, pyarrow"`` (the floor the gate cannot go below).

Both commands run alternately in one run, several repetitions each; the medians and their ratio
are printed (the target is a ratio of at most 1.3). Untimed warm-up runs come first so the OS
file cache is warm for every command alike.

Run: ``python benchmarks/bench_gate_startup.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import random
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


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode == 2:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.decode(errors='replace')}")
    return elapsed


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
        runs: dict[str, list[float]] = {"floor": [], "gate": [], "gate_no_battery": []}
        for _ in range(args.repeats):
            runs["floor"].append(timed(FLOOR))
            runs["gate"].append(timed(gate))
            runs["gate_no_battery"].append(timed(gate_nb))
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"{args.repeats} repetitions, medians:")
    print(f"  import pandas, pandera.pandas, pyarrow  {med['floor']:.3f} s")
    for key, label in (("gate", "gate, 2 items, with battery"),
                       ("gate_no_battery", "gate, 2 items, --no-battery")):
        ratio = med[key] / med["floor"]
        verdict = "ok" if ratio <= TARGET else f"over the {TARGET}x target"
        print(f"  {label:<38} {med[key]:.3f} s  ratio {ratio:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
