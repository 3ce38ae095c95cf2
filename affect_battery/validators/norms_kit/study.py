"""A human norming study: counterbalanced lists, attention checks, and the study manifest.

The lists come from :func:`~affect_battery.validators.norms_study.build_lists`, the same
counterbalancing the machine readers had (no list holds two versions of one scenario; each
text appears in exactly one list per cycle), so human and machine norms differ in who read,
never in how the texts were dealt. The manifest (``study.json``) maps every code to its item
and text hash and stays with the lab: participants get only the pages, which show no ids.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ...core.constants import EMOTIONS, NORM_LABELS
from ...core.norms import text_sha256
from ..norms_study import build_lists, new_code

FORMAT = "affect-battery-norms-response/1"
STUDY_FORMAT = "affect-battery-norms-study/1"
NORMED_SPLITS: tuple[str, ...] = ("clinical", "neutral", "moderate", "complex_neutral")
INSTRUCTION_VERSION = "human-v1"
INTENSITY_NAMES: tuple[str, ...] = ("none", "mild", "clear", "strong")

LABEL_KEYS: tuple[tuple[str, str, str], ...] = (
    ("1", "joy", "happiness or delight about something that happened"),
    ("2", "trust", "admiration for, or confidence in, another person"),
    ("3", "fear", "alarm about a threat to someone's life, health or safety"),
    ("4", "surprise", "astonishment at something unexpected"),
    ("5", "sadness", "sorrow about a loss"),
    ("6", "disgust", "revulsion at something repugnant or degrading"),
    ("7", "anger", "indignation at something someone did"),
    ("8", "anticipation", "eager or watchful expectation of something about to happen"),
    ("9", "none", "the main character lives through no particular emotion"),
)
"""Key, label and gloss, in the order the page lists them (the glosses of instruction v1)."""

assert tuple(k[1] for k in LABEL_KEYS) == NORM_LABELS

PRACTICE: tuple[str, ...] = (
    "Lena walked to the tram stop, checked the timetable on the pole and waited with the "
    "others until the number 4 came. She found a seat by the window and read her book.",
    "After two years of saving, Tomas signed the last form at the harbour office and was "
    "handed the keys to the small wooden boat he had wanted since he was a boy.",
)
"""Practice texts written for the kit (not battery items); their answers are not kept."""

CHECK_TEMPLATE = ("This text checks that answers are being read. Whatever you think of it, "
                  "please answer \"{label}\" with intensity {intensity} ({name}).")


@dataclass(frozen=True)
class StudyItem:
    code: str
    item_id: str
    text_sha256: str


@dataclass(frozen=True)
class Check:
    """An attention-check item: its text names the one answer that passes."""

    code: str
    label: str
    intensity: int

    @property
    def text(self) -> str:
        return CHECK_TEMPLATE.format(label=self.label, intensity=self.intensity,
                                     name=INTENSITY_NAMES[self.intensity])


@dataclass
class StudyList:
    list_id: str
    cycle: int
    number: int
    items: list[StudyItem]
    checks: list[Check]
    manifest_sha256: str = ""

    def manifest(self, study_id: str, instruction_version: str) -> dict[str, Any]:
        """What the list is, canonically: hashed into ``manifest_sha256`` and put in the page."""
        return {"study": study_id, "list": self.list_id, "instruction": instruction_version,
                "texts": [[i.code, i.text_sha256] for i in self.items],
                "checks": [[c.code, c.label, c.intensity] for c in self.checks]}

    def seal(self, study_id: str, instruction_version: str) -> None:
        blob = json.dumps(self.manifest(study_id, instruction_version), sort_keys=True,
                          separators=(",", ":")).encode("utf-8")
        self.manifest_sha256 = hashlib.sha256(blob).hexdigest()


@dataclass
class Study:
    study_id: str
    round: int
    seed: int
    cycles: int
    instruction_version: str
    lists: list[StudyList] = field(default_factory=list)

    def list_by_id(self) -> dict[str, StudyList]:
        return {sl.list_id: sl for sl in self.lists}

    def to_json(self) -> str:
        body = {"format": STUDY_FORMAT, "study": self.study_id, "round": self.round,
                "seed": self.seed, "cycles": self.cycles,
                "instruction_version": self.instruction_version,
                "note": "Keep this file with the lab: it maps codes to item ids. Participants "
                        "get only the list pages.",
                "lists": [{"list": sl.list_id, "cycle": sl.cycle, "number": sl.number,
                           "manifest_sha256": sl.manifest_sha256,
                           "items": [asdict(i) for i in sl.items],
                           "checks": [asdict(c) for c in sl.checks]} for sl in self.lists]}
        return json.dumps(body, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Study:
        """The manifest back; raises ``ValueError``/``KeyError`` on anything malformed."""
        d = json.loads(text)
        if not isinstance(d, dict) or d.get("format") != STUDY_FORMAT:
            raise ValueError(f"not a study manifest ({STUDY_FORMAT})")
        study = cls(str(d["study"]), int(d["round"]), int(d["seed"]), int(d["cycles"]),
                    str(d["instruction_version"]))
        for sl in d["lists"]:
            study.lists.append(StudyList(
                str(sl["list"]), int(sl["cycle"]), int(sl["number"]),
                [StudyItem(str(i["code"]), str(i["item_id"]), str(i["text_sha256"]))
                 for i in sl["items"]],
                [Check(str(c["code"]), str(c["label"]), int(c["intensity"]))
                 for c in sl["checks"]], str(sl["manifest_sha256"])))
        return study


def normed_items(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """The texts a norming study reads: every item of the normed splits (keyword-rich twins
    are not normed: their emotion words make the answer trivial)."""
    part = frame[frame["split"].isin(NORMED_SPLITS)]
    return list(zip(part["id"], part["text"], strict=True))


def instruction_version(instructions: str | None) -> str:
    """``human-v1`` for the shipped instructions; an edited text gets a version of its own
    (``custom-`` and a hash prefix), so ratings say which wording was read."""
    if instructions is None:
        return INSTRUCTION_VERSION
    return "custom-" + text_sha256(instructions)[:10]


def build_study(items: list[tuple[str, str]], *, lists: int, cycles: int = 1, seed: int = 0,
                round_no: int = 1, checks_per_list: int = 2, study_id: str | None = None,
                instruction: str = INSTRUCTION_VERSION) -> Study:
    """Deal ``(item_id, text)`` pairs into ``lists`` counterbalanced lists per cycle and add
    ``checks_per_list`` attention checks to each, with answers drawn at random (never "none",
    so a participant who always presses 9 fails them)."""
    if lists < 1 or cycles < 1:
        raise ValueError("lists and cycles must be at least 1")
    entries = build_lists(items, round_no=round_no, cycles=cycles, lists_per_cycle=lists,
                          seed=seed, reader_prefix="h")
    rng = random.Random(f"checks:{seed}")
    used = {e.code for e in entries}
    by_list: dict[tuple[int, int], list[StudyItem]] = {}
    for e in sorted(entries, key=lambda e: (e.cycle, e.list, e.position)):
        by_list.setdefault((e.cycle, e.list), []).append(
            StudyItem(e.code, e.item_id, e.text_sha256))
    if study_id is None:
        digest = hashlib.sha256(json.dumps(sorted((k[0], k[1], [i.code for i in v])
                                                  for k, v in by_list.items())).encode())
        study_id = f"S{round_no}-{digest.hexdigest()[:8]}"
    study = Study(study_id, round_no, seed, cycles, instruction)
    width = max(2, len(str(lists)))
    for (cycle, number), members in sorted(by_list.items()):
        checks = []
        for _ in range(checks_per_list):
            code = new_code(rng, used)
            checks.append(Check(code, rng.choice(EMOTIONS), rng.randint(1, 3)))
        list_id = (f"L{number:0{width}d}" if cycles == 1
                   else f"C{cycle}-L{number:0{width}d}")
        sl = StudyList(list_id, cycle, number, members, checks)
        sl.seal(study_id, instruction)
        study.lists.append(sl)
    return study


def read_study(folder: str | Path) -> Study:
    """The study manifest of a folder written by ``norms study``."""
    path = Path(folder)
    path = path / "study.json" if path.is_dir() else path
    return Study.from_json(path.read_text(encoding="utf-8"))
