"""Gate throughput and start-up cost, printed as figures and ratios measured in one run.

1. ``run_gate`` on 10,000 generated items (clinical, neutral and keyword-rich triples over
   random plain vocabulary): items per second and peak Python memory (tracemalloc).
2. ``affect-battery gate`` on one clean item as a whole process, start-up included, against a
   bare ``python -c pass`` on the same machine.

Run: ``python benchmarks/bench_gate.py [--items N]``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from affect_battery.core.constants import EMOTIONS
from affect_battery.validators.gate import run_gate

WORDS = ("table window garden ladder kettle bicycle notebook bucket lantern carpet drawer shelf "
         "bench market station harbour library kitchen corridor envelope basket hammer parcel "
         "blanket saucepan doorway courtyard orchard ferry tractor pencil folder curtain pillow "
         "wagon meadow bridge tunnel chimney stairway cabinet lamp compass ticket platform engine "
         "carried moved opened closed lifted counted sorted painted measured folded checked "
         "cleaned placed stacked labelled washed fixed turned wrapped collected delivered").split()


def text(rng: random.Random, name: str) -> str:
    sentences = []
    for _ in range(6):
        body = " ".join(rng.choice(WORDS) for _ in range(16))
        sentences.append(f"{name} {body}.")
    return " ".join(sentences)


def generate(n_items: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    items: list[dict] = []
    k = 0
    while len(items) < n_items:
        emo = EMOTIONS[k % 8]
        d = (k // 8) % 6 + 1
        n = k // 48 + 1
        k += 1
        name = f"Velric{'' if k % 2 else 'a'}"
        clinical = text(rng, name)
        neutral = clinical.replace(" table ", " shelf ", 1).replace(" lamp ", " ladder ", 1)
        items += [{"id": f"C-{emo}-d{d}-{n}", "text": clinical},
                  {"id": f"N-{emo}-d{d}-{n}", "text": neutral},
                  {"id": f"K-{emo}-d{d}-{n}", "text": clinical + " They were furious, "
                   "terrified, overjoyed, heartbroken, disgusted, astonished, eager and trusting."}]
    return items[:n_items]


def write(path: Path, items: list[dict]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for it in items:
            fh.write(json.dumps(it) + "\n")
    return path


def bench_throughput(tmp: Path, n_items: int) -> dict:
    path = write(tmp / "items.jsonl", generate(n_items))
    run_gate([path], with_battery=False)  # warm caches (lexicon, dictionary) outside the timing
    t0 = time.perf_counter()
    report = run_gate([path], with_battery=True)
    elapsed = time.perf_counter() - t0
    return {"items": report.n_items, "seconds": elapsed, "items_per_s": report.n_items / elapsed,
            "findings": len(report.findings), "path": path}


def peak_rss_mib(argv: list[str]) -> float:
    """Peak resident memory of a child process (the whole gate, interpreter included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(argv, capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(after, before) / 1024


def bench_process(tmp: Path, repeats: int = 5) -> dict:
    item = generate(3)
    path = write(tmp / "one.jsonl", item)
    exe = shutil.which("affect-battery")
    cmd = [exe] if exe else [sys.executable, "-m", "affect_battery.cli"]

    def timed(argv: list[str]) -> float:
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        return time.perf_counter() - t0

    gate = [timed([*cmd, "gate", str(path), "--no-battery"]) for _ in range(repeats)]
    gate_b = [timed([*cmd, "gate", str(path)]) for _ in range(repeats)]
    bare = [timed([sys.executable, "-c", "pass"]) for _ in range(repeats)]
    return {"gate_alone_s": statistics.median(gate), "gate_with_battery_s":
            statistics.median(gate_b), "python_startup_s": statistics.median(bare)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        tp = bench_throughput(tmp, args.items)
        exe = shutil.which("affect-battery")
        cmd = [exe] if exe else [sys.executable, "-m", "affect_battery.cli"]
        rss = peak_rss_mib([*cmd, "gate", str(tp["path"]), "--format", "json"])
        pr = bench_process(tmp)
    print(f"gate throughput: {tp['items']} items in {tp['seconds']:.2f} s = "
          f"{tp['items_per_s']:.0f} items/s ({tp['findings']} findings); peak RSS of the "
          f"whole gate process on them {rss:.0f} MiB")
    ratio = pr["gate_with_battery_s"] / pr["python_startup_s"]
    print(f"one clean item as a whole process: {pr['gate_alone_s']:.2f} s alone, "
          f"{pr['gate_with_battery_s']:.2f} s against the shipped battery; bare python "
          f"{pr['python_startup_s']:.3f} s (ratio {ratio:.0f}x)")


if __name__ == "__main__":
    main()
