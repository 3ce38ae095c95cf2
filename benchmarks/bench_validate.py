"""Defence-battery cost on the shipped battery, as whole processes, plus classifier throughput.

Prints: wall time and peak RSS of ``affect-battery validate`` with the embedded classifier and
with ``--classifier none`` (VADER + NRC + lexical only), their ratio, and the embedded
classifier's items per second on the battery texts (model load excluded).

Run: ``python benchmarks/bench_validate.py``.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_process(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(argv)} failed: {proc.stderr.strip()[-500:]}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, rss


def main() -> None:
    exe = shutil.which("affect-battery")
    cmd = [exe] if exe else [sys.executable, "-m", "affect_battery.cli"]
    with tempfile.TemporaryDirectory() as d:
        # RUSAGE_CHILDREN keeps the maximum over children: measure the lighter run first
        w_none, rss_none = run_process([*cmd, "validate", "--classifier", "none", "--out",
                                        str(Path(d) / "a")])
        w_emb, rss_emb = run_process([*cmd, "validate", "--out", str(Path(d) / "b")])
    from affect_battery.core.battery import battery_frame
    from affect_battery.validators.classifier import EmbeddedClassifier

    texts = battery_frame()["text"].tolist()
    clf = EmbeddedClassifier()
    clf.predict_proba(texts[:32])  # warm-up
    t0 = time.perf_counter()
    clf.predict_proba(texts)
    per_s = len(texts) / (time.perf_counter() - t0)
    print(f"validate, whole battery ({len(texts)} items), embedded classifier: {w_emb:.1f} s, "
          f"peak RSS {rss_emb:.0f} MiB")
    print(f"validate, VADER + NRC + lexical only: {w_none:.1f} s, peak RSS {rss_none:.0f} MiB "
          f"(classifier run / lexical-only run = {w_emb / w_none:.2f}x)")
    print(f"embedded classifier throughput: {per_s:.0f} items/s (model loaded)")


if __name__ == "__main__":
    main()
