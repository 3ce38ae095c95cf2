"""Surface statistics of a text, defined once so that authors, schema and card agree.

Word count is whitespace tokens (what a writer counts); sentence count is terminal punctuation
runs followed by whitespace or the end (so decimals like 3.5 do not split a sentence).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_SENTENCE_END = re.compile(r"[.!?]+[\"')\]”’]*(?=\s|$)")
_WORD = re.compile(r"[a-z0-9']+")
_FUNCTION_WORDS = frozenset({"her", "his", "hers", "their", "theirs", "its", "she", "he", "they",
                             "it", "we", "i", "you", "my", "our", "your"})
"""Capitalised function words that simplemma's dictionary lacks (it does not know "her")."""
_NAME_TOKEN = re.compile(r"\b[A-Z][a-z]+(?:['’][a-z]+)?\b")


def word_count(text: str) -> int:
    """Number of whitespace-separated tokens.

    >>> word_count("She set the cup down.  He did not answer.")
    9
    """
    return len(text.split())


def sentence_count(text: str) -> int:
    """Number of sentences; a text without terminal punctuation counts as one if non-empty.

    >>> sentence_count("It cost 3.5 euros. She paid! Then what?")
    3
    >>> sentence_count("no full stop"), sentence_count("")
    (1, 0)
    """
    n = len(_SENTENCE_END.findall(text))
    if n == 0 and text.strip():
        return 1
    return n


def word_set(text: str) -> frozenset[str]:
    """Lower-cased word types, punctuation stripped: the unit of pair-overlap checks."""
    return frozenset(_WORD.findall(text.lower()))


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """Jaccard similarity of two collections treated as sets (1.0 for two empty sets).

    >>> jaccard(word_set("The cat sat."), word_set("the cat ran"))
    0.5
    """
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def shingle_words(text: str) -> list[str]:
    """The lower-cased word sequence :func:`word_shingles` cuts into n-grams."""
    return _WORD.findall(text.lower())


def word_shingles(text: str, n: int = 5) -> frozenset[tuple[str, ...]]:
    """Word n-grams used to find near-duplicate texts across scenarios."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return frozenset({tuple(words)}) if words else frozenset()
    return frozenset(zip(*(words[i:] for i in range(n)), strict=False))


@lru_cache(maxsize=65536)
def _is_common_word(token: str) -> bool:
    import simplemma

    return bool(simplemma.is_known(token.lower(), lang="en"))


def name_candidates(text: str) -> frozenset[str]:
    """Capitalised tokens (possessive ``'s`` removed) that are not pronouns: the tokens that
    :func:`character_names` looks up in the dictionary."""
    out = set()
    for tok in _NAME_TOKEN.findall(text):
        base = re.sub(r"['’]s$", "", tok)
        if base.lower() not in _FUNCTION_WORDS:
            out.add(base)
    return frozenset(out)


def is_name(token: str) -> bool:
    """A capitalised token that is not an English dictionary word (the dictionary loads on the
    first call, which is the expensive part: callers ask about as few tokens as they can)."""
    return not _is_common_word(token)


def character_names(text: str) -> frozenset[str]:
    """Capitalised tokens that are not English dictionary words: a proxy for named characters.

    Names that are also words (Grace, Rose) are missed on both sides of a pair, which keeps the
    pair check symmetric rather than noisy.
    """
    return frozenset(t for t in name_candidates(text) if is_name(t))


def names_differ(text: str, reference: str) -> tuple[list[str], list[str]]:
    """(names of ``reference`` missing from ``text``, names of ``text`` new to ``reference``):
    the same answer as comparing :func:`character_names` of both, but only the tokens that
    appear capitalised in one text and not the other are looked up. A matched pair shares its
    names, so the gate usually never loads the dictionary at all.

    >>> names_differ("Mara left. Mara sat.", "Mara left. Mara stood.")
    ([], [])
    """
    mine, theirs = name_candidates(text), name_candidates(reference)
    missing = sorted(t for t in theirs - mine if is_name(t))
    extra = sorted(t for t in mine - theirs if is_name(t))
    return missing, extra
