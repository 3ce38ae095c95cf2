"""Build the coded reader batches of one norming round (see data/norms/PROTOCOL.md).

Writes the list manifest to data/norms/lists/round-<N>.jsonl (code -> item, text hash) and one
batch file per reader to OUT (outside the repository: readers are given only that file).
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict
from pathlib import Path

from affect_battery.core.battery import battery_frame
from affect_battery.core.norms import item_norms
from affect_battery.validators.norms_study import build_lists, render_batch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--round", type=int, required=True)
    ap.add_argument("--ids", help="file with one item id per line (default: every normed split)")
    ap.add_argument("--unrated", action="store_true",
                    help="the normed texts with fewer than 3 current reads (rewritten texts)")
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--lists", type=int, default=6)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--fillers", type=int, default=0,
                    help="add this many unchanged clinical/moderate/complex_neutral texts per "
                         "cycle, so no list is made of rewritten controls only")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    frame = battery_frame()
    texts = dict(zip(frame["id"], frame["text"], strict=True))
    if args.unrated:
        norms = item_norms(frame).set_index("id")
        normed = frame["split"].isin(["clinical", "neutral", "moderate", "complex_neutral"])
        ids = [i for i in frame.loc[normed, "id"] if norms.at[i, "norm_n"] < 3]
    elif args.ids:
        ids = [s.strip() for s in Path(args.ids).read_text().split("\n") if s.strip()]
    else:
        ids = frame.loc[frame["split"].isin(["clinical", "neutral", "moderate",
                                             "complex_neutral"]), "id"].tolist()
    if args.fillers:
        pool = frame[frame["split"].isin(["clinical", "moderate", "complex_neutral"])
                     & ~frame["id"].isin(ids)]["id"].tolist()
        rng = random.Random(args.seed)
        ids = ids + rng.sample(sorted(pool), args.fillers)
    entries = build_lists([(i, texts[i]) for i in ids], round_no=args.round, cycles=args.cycles,
                          lists_per_cycle=args.lists, seed=args.seed)
    manifest = ROOT / "data" / "norms" / "lists" / f"round-{args.round}.jsonl"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    if manifest.exists():
        raise SystemExit(f"{manifest} exists: a round's lists are written once")
    manifest.write_text("".join(json.dumps(asdict(e)) + "\n" for e in entries))
    instruction = (ROOT / "data" / "norms" / "instruction_v1.md").read_text()
    args.out.mkdir(parents=True, exist_ok=True)
    readers = sorted({e.reader for e in entries})
    for r in readers:
        mine = [e for e in entries if e.reader == r]
        (args.out / f"{r}.txt").write_text(render_batch(mine, texts, instruction))
        print(r, len(mine))


if __name__ == "__main__":
    main()
