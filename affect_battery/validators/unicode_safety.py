"""Unicode safety of item texts: normalisation for the keyword screen, and findings of its own.

A text can hide an emotion word from a plain lexicon lookup in many ways: a zero-width joiner
or soft hyphen inside the word ("fur\\u200dious"), a Cyrillic or Greek look-alike letter
("furіous" with U+0456), fullwidth letters, ligatures ("terriﬁed"). :func:`normalise` undoes
all of them (NFKC, then default-ignorable, format and control characters removed, then
look-alike letters in Latin words folded to their Latin twin) and keeps an index map, so every
hit found on the normalised text is reported at its offsets in the ORIGINAL text.

:func:`unicode_findings` flags, as errors of their own codes, the characters that have no place
in a stimulus text whatever it says:

``unicode-control``
    C0/C1 control characters (tab and newline excepted).
``unicode-bidi``
    bidirectional marks, embeddings, overrides and isolates (they reorder what a reader sees).
``unicode-invisible``
    other default-ignorable and format characters (zero-width space/joiner, soft hyphen, word
    joiner, byte-order mark, variation selectors, tag characters, ...).
``unicode-mixed-script``
    a word that mixes Latin with another script, or a word spelt entirely in look-alikes of
    Latin letters inside a Latin text.

Each finding names the code point (U+XXXX and its Unicode name) and its offsets in the original
text. Script and look-alike data come from the maintained Unicode confusables tables of
``confusable-homoglyphs`` (imported lazily, when a text has a non-Latin letter at all).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

from ..core.findings import Finding

ALLOWED_CONTROLS = frozenset("\t\n")
"""Control characters a text may contain (as whitespace); every other one is a finding."""

BIDI_CONTROLS = frozenset(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
"""Arabic letter mark, LRM, RLM, the embeddings/overrides (LRE..RLO) and isolates (LRI..PDI)."""

# Default_Ignorable_Code_Point from DerivedCoreProperties.txt (Unicode 15). The property is
# stable, and unicodedata does not expose it; format characters (Cf) are added by category.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
_WORD = re.compile(r"[^\W\d_]+")
MAX_OFFSETS_SHOWN = 10


@lru_cache(maxsize=65536)
def is_default_ignorable(ch: str) -> bool:
    cp = ord(ch)
    return (unicodedata.category(ch) == "Cf"
            or any(lo <= cp <= hi for lo, hi in _DEFAULT_IGNORABLE))


@lru_cache(maxsize=65536)
def classify(ch: str) -> str | None:
    """The finding code a single character earns on its own, or None."""
    if ord(ch) in BIDI_CONTROLS:
        return "unicode-bidi"
    if unicodedata.category(ch) == "Cc":
        return None if ch in ALLOWED_CONTROLS else "unicode-control"
    if is_default_ignorable(ch):
        return "unicode-invisible"
    return None


def describe(ch: str) -> str:
    """``U+200D ZERO WIDTH JOINER``; control characters have no name, so their alias is used."""
    name = unicodedata.name(ch, "") or _CONTROL_NAMES.get(ord(ch), "<control>")
    return f"U+{ord(ch):04X} {name}"


_CONTROL_NAMES = {0x00: "NULL", 0x07: "BELL", 0x08: "BACKSPACE", 0x09: "CHARACTER TABULATION",
                  0x0A: "LINE FEED", 0x0B: "LINE TABULATION", 0x0C: "FORM FEED",
                  0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE", 0x7F: "DELETE",
                  0x85: "NEXT LINE"}


# ---- script data (confusable-homoglyphs, lazily) --------------------------------------------

@lru_cache(maxsize=4096)
def script_of(ch: str) -> str:
    """The script alias of a letter ('LATIN', 'CYRILLIC', 'GREEK', ...; 'COMMON' if none)."""
    if ch.isascii():
        return "LATIN" if ch.isalpha() else "COMMON"
    from confusable_homoglyphs import categories

    return categories.aliases_categories(ch)[0]


@lru_cache(maxsize=4096)
def latin_twin(ch: str) -> str | None:
    """The ASCII Latin letter ``ch`` is a look-alike of (Cyrillic 'а' -> 'a'), or None."""
    if ch.isascii() or script_of(ch) == "LATIN":
        return None
    from confusable_homoglyphs import confusables

    found = confusables.is_confusable(ch, greedy=True, preferred_aliases=["latin"]) or []
    for entry in found:
        for glyph in entry.get("homoglyphs", []):
            c = glyph.get("c", "")
            if len(c) == 1 and c.isascii() and c.isalpha():
                return c
    return None


# ---- normalisation with an index map --------------------------------------------------------

@dataclass(frozen=True)
class Normalised:
    """A normalised text and, per character, the span of the original it came from."""

    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of the normalised slice ``text[start:end]``."""
        if end <= start:
            at = self.starts[start] if start < len(self.starts) else len(self.original)
            return at, at
        return self.starts[start], self.ends[end - 1]

    @property
    def changed(self) -> bool:
        return self.text != self.original


def _kept(text: str) -> list[tuple[str, int]]:
    """Characters that survive stripping (every one :func:`classify` passes), with offsets."""
    return [(ch, i) for i, ch in enumerate(text) if classify(ch) is None]


def normalise(text: str) -> Normalised:
    """NFKC with ignorable, format and control characters removed and look-alikes folded."""
    norm = _unfolded(text)
    if norm.text.isascii():
        return norm
    # folding replaces one character by one, so the index map stays valid
    return Normalised(text, _fold_lookalikes(norm.text), norm.starts, norm.ends)


def _suspicious_words(text: str) -> Iterable[tuple[re.Match[str], list[int]]]:
    """Words mixing Latin with another script, or spelt in Latin look-alikes in a Latin text;
    with the positions of their non-Latin letters."""
    latin_text = None
    for m in _WORD.finditer(text):
        word = m.group(0)
        if word.isascii():
            continue
        scripts = {script_of(c) for c in word} - {"COMMON", "INHERITED"}
        foreign = [m.start() + k for k, c in enumerate(word)
                   if script_of(c) not in ("LATIN", "COMMON", "INHERITED")]
        if not foreign:
            continue
        if "LATIN" in scripts and len(scripts) > 1:
            yield m, foreign
            continue
        if latin_text is None:
            latin_text = any(script_of(c) == "LATIN" for c in text if c.isalpha())
        if latin_text and all(latin_twin(text[k]) for k in foreign):
            yield m, foreign


def _fold_lookalikes(text: str) -> str:
    chars = list(text)
    for _, foreign in _suspicious_words(text):
        for k in foreign:
            twin = latin_twin(chars[k])
            if twin:
                chars[k] = twin
    return "".join(chars)


# ---- findings --------------------------------------------------------------------------------

def _offsets(offsets: list[int]) -> str:
    shown = ", ".join(map(str, offsets[:MAX_OFFSETS_SHOWN]))
    more = len(offsets) - MAX_OFFSETS_SHOWN
    return shown + (f" (and {more} more)" if more > 0 else "")


_KIND = {"unicode-control": "control character", "unicode-bidi": "bidirectional control",
         "unicode-invisible": "invisible character"}


def text_findings(text: str) -> list[tuple[str, str, dict[str, Any]]]:
    """``(code, message, details)`` for each offending character (or word) of one text."""
    if not isinstance(text, str) or (text.isascii() and text.isprintable()):
        return []
    by_char: dict[tuple[str, str], list[int]] = {}
    for i, ch in enumerate(text):
        code = classify(ch)
        if code:
            by_char.setdefault((code, ch), []).append(i)
    out = []
    for (code, ch), offsets in by_char.items():
        out.append((code, f"{_KIND[code]} {describe(ch)} at offset{'s' if len(offsets) > 1 else ''}"
                    f" {_offsets(offsets)}",
                    {"codepoint": f"U+{ord(ch):04X}", "name": describe(ch).split(" ", 1)[1],
                     "offsets": offsets}))
    if not text.isascii():
        out += _mixed_script(text)
    return out


def _mixed_script(text: str) -> list[tuple[str, str, dict[str, Any]]]:
    norm = _unfolded(text)
    out = []
    for m, foreign in _suspicious_words(norm.text):
        start, end = norm.span(m.start(), m.end())
        chars = [(text[norm.starts[k]], norm.starts[k]) for k in foreign]
        scripts = sorted({script_of(c) for c in m.group(0)} - {"COMMON", "INHERITED"})
        named = "; ".join(f"{describe(c)} at offset {at}" for c, at in chars)
        out.append(("unicode-mixed-script",
                    f"word {text[start:end]!r} mixes scripts ({'/'.join(scripts)}): {named}",
                    {"word": text[start:end], "offset": start, "end": end, "scripts": scripts,
                     "characters": [{"codepoint": f"U+{ord(c):04X}",
                                     "name": unicodedata.name(c, ""), "offset": at}
                                    for c, at in chars]}))
    return out


def _unfolded(text: str) -> Normalised:
    """NFKC of ``text`` with ignorable, format and control characters removed, index kept."""
    kept = _kept(text)
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(kept)
    while i < n:
        # a base character and the combining marks that follow it are normalised together
        j = i + 1
        while j < n and _combining(kept[j][0]):
            j += 1
        start, end = kept[i][1], kept[j - 1][1] + 1
        piece = kept[i][0] if j == i + 1 else "".join(c for c, _ in kept[i:j])
        for out in _nfkc(piece):
            chars.append(out)
            starts.append(start)
            ends.append(end)
        i = j
    return Normalised(text, "".join(chars), tuple(starts), tuple(ends))


@lru_cache(maxsize=65536)
def _combining(ch: str) -> bool:
    return not ch.isascii() and unicodedata.combining(ch) != 0


@lru_cache(maxsize=65536)
def _nfkc(piece: str) -> str:
    return piece if piece.isascii() else unicodedata.normalize("NFKC", piece)


def unicode_findings(frame: pd.DataFrame) -> list[Finding]:
    """Gate findings for every item text in ``frame`` (columns id, text, _file, _line)."""
    out: list[Finding] = []
    for rec in frame.to_dict(orient="records"):
        line = rec.get("_line")
        line = None if line is None or pd.isna(line) else int(line)
        for code, message, details in text_findings(rec.get("text")):
            out.append(Finding(code, message, rec.get("id"), rec.get("_file"), line,
                               details=details))
    return out
