"""The item id scheme, and everything an id implies.

An id such as ``N-anger-d1-3`` fixes the split, the scenario's emotion, the domain, and the links
to the other members of its scenario, so authors write only the id and the text and the rest is
derived (and, where given, checked against the id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .constants import (
    DOMAIN_LABELS,
    EMOTIONS,
    NEUTRAL,
    PREFIX_SPLIT,
    SPLIT_INTENSITY,
    SPLIT_PREFIX,
)

_EMO = "|".join(EMOTIONS)
SCENARIO_ID_RE = re.compile(
    rf"^(?P<prefix>[CNMK])-(?P<emotion>{_EMO})-d(?P<domain>[1-9])-(?P<n>[1-9][0-9]?)$")
COMPLEX_ID_RE = re.compile(r"^X-(?P<theme>[a-z]+(?:_[a-z]+)*)-(?P<n>[0-9]{2})$")
ID_PATTERN = rf"^(?:[CNMK]-(?:{_EMO})-d[1-9]-[1-9][0-9]?|X-[a-z]+(?:_[a-z]+)*-[0-9]{{2}})$"


class BadId(ValueError):
    """An id that does not follow the scheme; the message says what a valid one looks like."""


@dataclass(frozen=True)
class ParsedId:
    split: str
    emotion: str | None
    domain: int | None
    n: int
    theme: str | None = None

    @property
    def scenario(self) -> str:
        """Key shared by the clinical, neutral, moderate and keyword-rich members of a scenario."""
        if self.theme is not None:
            return f"X-{self.theme}-{self.n:02d}"
        return f"{self.emotion}-d{self.domain}-{self.n}"


def parse_id(item_id: str) -> ParsedId:
    """Parse an id or raise :class:`BadId` with an example of the expected form."""
    if not isinstance(item_id, str):
        raise BadId(f"id must be a string, got {type(item_id).__name__}")
    m = SCENARIO_ID_RE.match(item_id)
    if m:
        return ParsedId(
            split=PREFIX_SPLIT[m["prefix"]],
            emotion=m["emotion"],
            domain=int(m["domain"]),
            n=int(m["n"]),
        )
    m = COMPLEX_ID_RE.match(item_id)
    if m:
        return ParsedId(split="complex_neutral", emotion=None, domain=None, n=int(m["n"]),
                        theme=m["theme"])
    raise BadId(
        f"malformed id {item_id!r}: expected e.g. C-anger-d1-1, N-fear-d6-4, M-joy-d2-1, "
        f"K-trust-d5-2 (emotion one of {', '.join(EMOTIONS)}) or X-<theme>-01"
    )


def make_id(split: str, emotion: str, domain: int, n: int) -> str:
    return f"{SPLIT_PREFIX[split]}-{emotion}-d{domain}-{n}"


def derived_fields(item_id: str) -> dict[str, object]:
    """Every column value the id determines (scenario, links, split, labels, default domain
    label)."""
    p = parse_id(item_id)
    if p.split == "complex_neutral":
        return {
            "scenario": p.scenario,
            "split": p.split,
            "emotion": NEUTRAL,
            "source_emotion": None,
            "intensity": SPLIT_INTENSITY[p.split],
            "has_keywords": False,
            "domain": None,
            "domain_label": (p.theme or "").replace("_", " "),
            "matched_control_id": None,
            "source_id": None,
        }
    assert p.emotion is not None and p.domain is not None
    clinical = make_id("clinical", p.emotion, p.domain, p.n)
    return {
        "scenario": p.scenario,
        "split": p.split,
        "emotion": NEUTRAL if p.split == "neutral" else p.emotion,
        "source_emotion": p.emotion,
        "intensity": SPLIT_INTENSITY[p.split],
        "has_keywords": p.split == "keyword_rich",
        "domain": p.domain,
        "domain_label": DOMAIN_LABELS.get(p.domain, ""),
        "matched_control_id": (
            make_id("neutral", p.emotion, p.domain, p.n) if p.split == "clinical"
            else clinical if p.split == "neutral" else None
        ),
        "source_id": clinical if p.split in ("moderate", "keyword_rich") else None,
    }


def scenario_of(item_id: str) -> str:
    """The scenario key of an id (shared by its clinical, neutral, moderate and twin versions).

    >>> scenario_of("N-anger-d1-3")
    'anger-d1-3'
    >>> scenario_of("X-craft-07")
    'X-craft-07'
    """
    return parse_id(item_id).scenario


def sibling_id(item_id: str, split: str) -> str:
    """The id of the same scenario's item in another split.

    >>> sibling_id("C-fear-d2-4", "neutral")
    'N-fear-d2-4'
    >>> sibling_id("K-joy-d6-1", "moderate")
    'M-joy-d6-1'
    """
    p = parse_id(item_id)
    if p.emotion is None or p.domain is None:
        raise BadId(f"{item_id!r} is a complex_neutral item: it has no siblings")
    return make_id(split, p.emotion, p.domain, p.n)
