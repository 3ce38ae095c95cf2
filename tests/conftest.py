"""Shared fixtures: a generator of synthetic, rule-abiding batteries for the integrity tests.

Synthetic texts are random sequences over a plain vocabulary (no lexicon terms), so that
scenarios never near-duplicate each other while matched members of a scenario stay matched.
"""

from __future__ import annotations

import os

# Tests never touch the network: the Hub is unreachable here, and must fail fast, not hang.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import json
import random
from pathlib import Path

import pytest

from affect_battery.core.constants import EMOTIONS, MODERATE_DOMAINS, N_DOMAINS, TWINNED_ITEMS

NOUNS = [
    "table", "window", "garden", "ladder", "kettle", "bicycle", "notebook", "bucket", "lantern",
    "carpet", "drawer", "shelf", "bench", "market", "station", "harbour", "library", "kitchen",
    "corridor", "envelope", "basket", "hammer", "parcel", "blanket", "saucepan", "doorway",
    "courtyard", "orchard", "ferry", "tractor", "pencil", "folder", "curtain", "pillow", "wagon",
    "meadow", "bridge", "tunnel", "chimney", "stairway", "cabinet", "lamp", "compass", "timetable",
    "ticket", "platform", "engine", "ribbon", "spoon", "kettle", "jar", "valve", "hinge", "crate",
    "barrel", "rope", "anchor", "sail", "paddle", "shovel", "rake", "broom", "mirror", "clock",
    "stamp", "receipt", "ledger", "bracket", "nozzle", "faucet", "gutter", "fence", "gate",
    "mailbox"
]
VERBS = [
    "carried", "moved", "opened", "closed", "lifted", "counted", "sorted", "painted", "measured",
    "folded", "checked", "cleaned", "placed", "stacked", "labelled", "washed", "fixed", "turned",
    "wrapped", "collected", "delivered", "arranged", "weighed", "copied", "filed", "repaired",
    "loaded", "unloaded", "swept", "oiled", "tightened"
]
PLACES = ["near", "beside", "behind", "under", "above", "across", "past"]
NAMES = ["Velric", "Quandor", "Tamsiel", "Orlaith", "Brannoc", "Ysolde", "Kaveh", "Idrenne",
         "Mirabeth", "Zoltrin", "Fennick", "Ulani"]
KEYWORD_PHRASES = {
    "anger": "was furious and full of rage",
    "fear": "was terrified and afraid",
    "sadness": "was heartbroken and full of grief",
    "disgust": "was disgusted and revolted",
    "joy": "was overjoyed and elated",
    "trust": "trusted them and admired them",
    "surprise": "was astonished and amazed",
    "anticipation": "waited eagerly, full of anticipation",
}


def make_text(rng: random.Random, name: str, sentences: int = 6) -> str:
    out = []
    for _ in range(sentences):
        words = [name, rng.choice(VERBS), "the", rng.choice(NOUNS), rng.choice(PLACES), "the",
                 rng.choice(NOUNS), "and", rng.choice(VERBS), "the", rng.choice(NOUNS),
                 rng.choice(PLACES), "the", rng.choice(NOUNS), "again", "at", "noon"]
        rng.shuffle(words[3:])
        out.append(" ".join(words[:1] + words[1:]) + ".")
    return " ".join(out)


def perturb(text: str, rng: random.Random, swaps: int = 3) -> str:
    """Minimal edits: swap a few nouns, keeping length, sentences and names."""
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if w.strip(".") in NOUNS]
    for i in rng.sample(idx, min(swaps, len(idx))):
        punct = "." if words[i].endswith(".") else ""
        words[i] = rng.choice(NOUNS) + punct
    return " ".join(words)


def scenario_items(emotion: str, domain: int, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    name = NAMES[seed % len(NAMES)]
    clinical = make_text(rng, name)
    items = [
        {"id": f"C-{emotion}-d{domain}-{n}", "text": clinical},
        {"id": f"N-{emotion}-d{domain}-{n}", "text": perturb(clinical, rng)},
    ]
    if n in TWINNED_ITEMS:
        items.append({"id": f"K-{emotion}-d{domain}-{n}",
                      "text": clinical + f" {name} {KEYWORD_PHRASES[emotion]}."})
        if domain in MODERATE_DOMAINS:
            items.append({"id": f"M-{emotion}-d{domain}-{n}", "text": perturb(clinical, rng, 5)})
    return items


def complex_items(themes: int = 4, per_theme: int = 12, seed: int = 10_000) -> list[dict]:
    names = ["alpha", "beta", "gamma", "delta", "epsilon"][:themes]
    items = []
    for t, theme in enumerate(names):
        for k in range(1, per_theme + 1):
            rng = random.Random(seed + 100 * t + k)
            items.append({"id": f"X-{theme}-{k:02d}", "text": make_text(rng, "Velric")})
    return items


def make_battery(emotions=EMOTIONS, domains=range(1, N_DOMAINS + 1), items_per_domain=4,
                 with_complex=False) -> dict[str, list[dict]]:
    """Items per source file name (emotion or complex_neutral)."""
    files: dict[str, list[dict]] = {}
    seed = 0
    for emo in emotions:
        rows = []
        for d in domains:
            for n in range(1, items_per_domain + 1):
                seed += 1
                rows += scenario_items(emo, d, n, seed)
        files[emo] = rows
    if with_complex:
        files["complex_neutral"] = complex_items()
    return files


def write_jsonl(path: Path, items: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    return path


def write_battery(root: Path, files: dict[str, list[dict]]) -> Path:
    """Write a battery data folder (stimuli/ + the shipped lexicon) and return its root."""
    from affect_battery.core.paths import data_dir

    (root / "lexicon").mkdir(parents=True, exist_ok=True)
    (root / "lexicon" / "emotion_terms.yaml").write_text(
        (data_dir() / "lexicon" / "emotion_terms.yaml").read_text(encoding="utf-8"),
        encoding="utf-8")
    for name, items in files.items():
        write_jsonl(root / "stimuli" / f"{name}.jsonl", items)
    return root


@pytest.fixture
def mini_battery(tmp_path: Path) -> Path:
    """A small valid draft battery: anger and fear, domains 1-2, all four items per domain."""
    return write_battery(tmp_path / "data", make_battery(("anger", "fear"), range(1, 3)))


@pytest.fixture(scope="session")
def full_battery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete synthetic battery with the release counts (576 items)."""
    root = tmp_path_factory.mktemp("full") / "data"
    return write_battery(root, make_battery(with_complex=True))
