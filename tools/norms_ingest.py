"""Turn the readers' answer files of one round into rating rows in data/norms/ratings.jsonl.

Answers are joined with the round's list manifest (code -> item id, text hash); the raw answer
files are kept beside the ratings so the join can be audited.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from affect_battery.validators.norms_study import ListEntry, read_answers

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--round", type=int, required=True)
    ap.add_argument("--instruction", default="v1")
    args = ap.parse_args()
    norms = ROOT / "data" / "norms"
    entries = [ListEntry(**json.loads(line)) for line in
               (norms / "lists" / f"round-{args.round}.jsonl").read_text().split("\n") if line]
    ratings_path = norms / "ratings.jsonl"
    existing = ratings_path.read_text().split("\n") if ratings_path.exists() else []
    rows = [json.loads(line) for line in existing if line]
    if any(r["round"] == args.round for r in rows):
        raise SystemExit(f"round {args.round} already ingested")
    for reader in sorted({e.reader for e in entries}):
        mine = [e for e in entries if e.reader == reader]
        path = norms / "answers" / f"round-{args.round}" / f"{reader}.jsonl"
        rows += read_answers(path, mine, instruction_version=args.instruction)
    ratings_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} ratings")


if __name__ == "__main__":
    main()
