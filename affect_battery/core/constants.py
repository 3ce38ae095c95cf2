"""Vocabulary of the battery: emotions, splits, intensities, domains and expected counts.

Everything that names a category lives here so that the schema, the loader, the gate and the
analyses agree on spelling and order (the order of ``EMOTIONS`` is the ClassLabel order).
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = (
    "joy",
    "trust",
    "fear",
    "surprise",
    "sadness",
    "disgust",
    "anger",
    "anticipation",
)
"""Plutchik's eight primaries, in wheel order (adjacent entries are adjacent petals)."""

NEUTRAL = "neutral"
LABELS: tuple[str, ...] = (*EMOTIONS, NEUTRAL)
"""Values of the ``emotion`` column: a primary, or ``neutral`` for the control splits."""

NONE = "none"
NORM_LABELS: tuple[str, ...] = (*EMOTIONS, NONE)
"""What a reader of the norming study may answer: one primary, or "none"."""

INTENSE_NAMES: dict[str, str] = {
    "joy": "ecstasy",
    "trust": "admiration",
    "fear": "terror",
    "surprise": "amazement",
    "sadness": "grief",
    "disgust": "loathing",
    "anger": "rage",
    "anticipation": "vigilance",
}
"""Intense-ring names: metadata for cards, never labels."""

SPLITS: tuple[str, ...] = ("clinical", "neutral", "moderate", "keyword_rich", "complex_neutral")

SPLIT_PREFIX: dict[str, str] = {
    "clinical": "C",
    "neutral": "N",
    "moderate": "M",
    "keyword_rich": "K",
    "complex_neutral": "X",
}
PREFIX_SPLIT: dict[str, str] = {v: k for k, v in SPLIT_PREFIX.items()}

INTENSITIES: tuple[str, ...] = ("peak", "moderate", "none")
SPLIT_INTENSITY: dict[str, str] = {
    "clinical": "peak",
    "neutral": "none",
    "moderate": "moderate",
    "keyword_rich": "peak",
    "complex_neutral": "none",
}

N_DOMAINS = 6
DOMAIN_LABELS: dict[int, str] = {
    1: "family and home",
    2: "work and school",
    3: "health and body",
    4: "friends and community",
    5: "money and property",
    6: "travel and nature",
}
"""Default domain labels. Domains 1-3 are shared by every emotion so they stay comparable."""

CLINICAL_PER_DOMAIN = 4
MODERATE_DOMAINS: tuple[int, ...] = (1, 2, 3)
TWINNED_ITEMS: tuple[int, ...] = (1, 2)
"""Clinical items 1-2 of a domain get a keyword-rich twin, and (domains 1-3) a moderate rewrite."""

COMPLEX_NEUTRAL_THEMES = 4
COMPLEX_NEUTRAL_PER_THEME = 12

EXPECTED_COUNTS: dict[str, int] = {
    "clinical": len(EMOTIONS) * N_DOMAINS * CLINICAL_PER_DOMAIN,
    "neutral": len(EMOTIONS) * N_DOMAINS * CLINICAL_PER_DOMAIN,
    "moderate": len(EMOTIONS) * len(MODERATE_DOMAINS) * len(TWINNED_ITEMS),
    "keyword_rich": len(EMOTIONS) * N_DOMAINS * len(TWINNED_ITEMS),
    "complex_neutral": COMPLEX_NEUTRAL_THEMES * COMPLEX_NEUTRAL_PER_THEME,
}

REQUIRED_INPUT_COLUMNS: tuple[str, ...] = ("id", "text")
"""What a submitted item must carry; everything else can be derived from the id."""
