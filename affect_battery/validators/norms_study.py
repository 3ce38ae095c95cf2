"""Reading-study lists: counterbalanced, coded batches for independent readers, and their intake.

Why counterbalanced: a reader who sees a clinical text and then its neutral twin judges the twin
*against* the clinical text; each list therefore holds at most one version of any scenario, and
every text appears in exactly one list per cycle, so ``cycles`` cycles give every text
``cycles`` independent reads. Codes are random so a reader cannot recover ids or splits.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.constants import NORM_LABELS
from ..core.ids import scenario_of
from ..core.norms import text_sha256

CODE_ALPHABET = string.ascii_uppercase.replace("O", "").replace("I", "") + "23456789"


@dataclass(frozen=True)
class ListEntry:
    reader: str
    round: int
    cycle: int
    list: int
    position: int
    code: str
    item_id: str
    text_sha256: str


def build_lists(items: Sequence[tuple[str, str]], *, round_no: int, cycles: int,
                lists_per_cycle: int, seed: int, reader_prefix: str = "r") -> list[ListEntry]:
    """Assign ``(item_id, text)`` pairs to coded reader lists.

    In each cycle the scenarios are shuffled and the versions of the k-th scenario go to lists
    ``k, k+1, ...`` (mod ``lists_per_cycle``), so no list holds two versions of a scenario and
    list sizes stay within a few items of each other.
    """
    rng = random.Random(seed)
    by_scenario: dict[str, list[tuple[str, str]]] = {}
    for item_id, text in items:
        by_scenario.setdefault(scenario_of(item_id), []).append((item_id, text))
    if any(len(v) > lists_per_cycle for v in by_scenario.values()):
        raise ValueError("a scenario has more versions than there are lists per cycle")
    used_codes: set[str] = set()
    entries: list[ListEntry] = []
    for cycle in range(1, cycles + 1):
        keys = sorted(by_scenario)
        rng.shuffle(keys)
        # Largest scenarios first so the rotation keeps list sizes balanced.
        keys.sort(key=lambda k: -len(by_scenario[k]))
        lists: list[list[tuple[str, str]]] = [[] for _ in range(lists_per_cycle)]
        for key in keys:
            versions = sorted(by_scenario[key])
            rng.shuffle(versions)
            sizes = sorted(range(lists_per_cycle), key=lambda i: (len(lists[i]), rng.random()))
            for target, version in zip(sizes, versions, strict=False):
                lists[target].append(version)
        for li, members in enumerate(lists, start=1):
            rng.shuffle(members)
            reader = f"{reader_prefix}{round_no}-c{cycle}-l{li}"
            for pos, (item_id, text) in enumerate(members, start=1):
                code = new_code(rng, used_codes)
                entries.append(ListEntry(reader, round_no, cycle, li, pos, code, item_id,
                                         text_sha256(text)))
    return entries


def new_code(rng: random.Random, used: set[str]) -> str:
    """A fresh five-character code (never one in ``used``, which it joins): texts are shown
    under codes, never ids, in the AI reading rounds and the human study pages alike."""
    while True:
        code = "".join(rng.choice(CODE_ALPHABET) for _ in range(5))
        if code not in used:
            used.add(code)
            return code


def render_batch(entries: Iterable[ListEntry], texts: dict[str, str], instruction: str) -> str:
    """The only file a reader sees: the instruction, then the texts under their codes."""
    parts = [instruction.rstrip(), "", "=" * 72, ""]
    for e in sorted(entries, key=lambda e: e.position):
        parts += [f"[{e.code}]", texts[e.item_id], ""]
    return "\n".join(parts)


def read_answers(path: Path, entries: Sequence[ListEntry], *, instruction_version: str,
                 rater_type: str = "ai") -> list[dict[str, object]]:
    """Join a reader's JSONL answers with its list; every code must be answered exactly once."""
    by_code = {e.code: e for e in entries}
    seen: dict[str, dict[str, object]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        line = line.strip()
        if not line or not line.startswith("{"):
            continue
        ans = json.loads(line)
        code = str(ans.get("code", "")).strip().strip("[]")
        if code not in by_code:
            raise ValueError(f"{path}:{lineno}: unknown code {code!r}")
        label = str(ans.get("label", "")).strip().lower()
        if label not in NORM_LABELS:
            raise ValueError(f"{path}:{lineno}: label {label!r} not one of the choices")
        intensity = int(ans.get("intensity"))
        if not 0 <= intensity <= 3:
            raise ValueError(f"{path}:{lineno}: intensity {intensity} outside 0-3")
        natural = str(ans.get("natural", "")).strip().lower()
        e = by_code[code]
        seen[code] = {"reader": e.reader, "rater_type": rater_type, "round": e.round,
                      "cycle": e.cycle, "list": e.list, "instruction": instruction_version,
                      "item_id": e.item_id, "text_sha256": e.text_sha256, "label": label,
                      "intensity": intensity,
                      "natural": natural if natural in ("yes", "no") else None}
    missing = [c for c in by_code if c not in seen]
    if missing:
        raise ValueError(f"{path}: {len(missing)} codes unanswered, e.g. {missing[:3]}")
    return [seen[e.code] for e in sorted(entries, key=lambda e: e.position)]
