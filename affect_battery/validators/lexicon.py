"""The explicit emotion-term lexicon and the keyword screen built on it.

The lexicon (``data/lexicon/emotion_terms.yaml``) lists lemmas by part of speech; this module
generates their inflections and matches them on whole tokens, so "scared" fires on "Scared"
but never inside "scarecrow", and hyphenated or open compounds ("heart-broken") are caught.
Matching is token-based (a dictionary lookup per token, plus short idiom walks), which keeps the
cost linear in text length however large the lexicon grows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from ..core.paths import package_data_dir
from ..errors import InputError

_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_GAP = re.compile(r"[\s\-‐‑‒–—]+")
_VOWELS = set("aeiou")
PRONOUNS = ("his", "her", "their", "its", "my", "your", "our", "him", "them", "me", "us",
            "you", "it", "one's", "someone's", "everyone's")
REFLEXIVES = ("himself", "herself", "themselves", "themself", "myself", "yourself",
              "ourselves", "itself", "oneself")
POS_KINDS = ("adj", "noun", "verb", "exact", "idiom")


@dataclass(frozen=True)
class Hit:
    """One lexicon match: which entry, for which emotion(s), where in the text."""

    term: str
    matched: str
    emotions: tuple[str, ...]
    start: int
    end: int


def _plural(w: str) -> list[str]:
    if w.endswith(("s", "x", "z", "ch", "sh")):
        return [w + "es", w]
    if w.endswith("y") and len(w) > 1 and w[-2] not in _VOWELS:
        return [w[:-1] + "ies"]
    return [w + "s"]


def _cvc(w: str) -> bool:
    return (len(w) >= 3 and w[-1] not in _VOWELS and w[-1] not in "wxy"
            and w[-2] in _VOWELS and w[-3] not in _VOWELS)


def _verb_forms(w: str) -> list[str]:
    forms = [w, *_plural(w)]
    if w.endswith("ic"):
        return [*forms, w + "ked", w + "king"]
    if w.endswith("ie"):
        forms += [w + "d", w[:-2] + "ying"]
    elif w.endswith("e"):
        forms += [w + "d", w[:-1] + "ing", w + "ing"]
    elif w.endswith("y") and w[-2] not in _VOWELS:
        forms += [w[:-1] + "ied", w + "ing"]
    else:
        forms += [w + "ed", w + "ing"]
        if _cvc(w):
            forms += [w + w[-1] + "ed", w + w[-1] + "ing"]
    return forms


def _adj_forms(w: str) -> list[str]:
    forms = [w]
    if w.endswith("y") and len(w) > 2 and w[-2] not in _VOWELS:
        forms += [w[:-1] + "ily", w[:-1] + "ier", w[:-1] + "iest", w[:-1] + "iness"]
    elif w.endswith("ic"):
        forms += [w + "ally"]
    elif w.endswith("le") and not w.endswith("ile"):
        forms += [w[:-1] + "y", w + "ness"]
    elif w.endswith("ful"):
        forms += [w + "ly", w + "ness"]
    else:
        forms += [w + "ly", w + "ness"]
    if len(w) <= 6 and not w.endswith(("ed", "ing", "ful", "ous", "ive", "ic", "al")):
        if w.endswith("e"):
            forms += [w + "r", w + "st"]
        elif not w.endswith("y"):
            forms += [w + "er", w + "est"]
            if _cvc(w):
                forms += [w + w[-1] + "er", w + w[-1] + "est"]
    return forms


def _expand_token(tok: str) -> frozenset[str]:
    """One idiom slot: alternatives separated by '/', with pronoun placeholders expanded."""
    out: set[str] = set()
    for alt in tok.lower().split("/"):
        if alt == "{pron}self":
            out.update(REFLEXIVES)
        elif alt == "{pron}":
            out.update(PRONOUNS)
        elif alt == "{any}":
            out.add("*")
        else:
            out.add(alt.replace("’", "'"))
    return frozenset(out)


class Lexicon:
    """Compiled lexicon: single-token forms in a dict, idioms indexed by their first token."""

    def __init__(self, entries: dict[str, dict[str, list[str]]], source: str = "<memory>") -> None:
        self.source = source
        self.categories: tuple[str, ...] = tuple(entries)
        self.single: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.multi: dict[str, list[tuple[str, str, tuple[frozenset[str], ...]]]] = defaultdict(list)
        self._patterns: set[tuple[str, tuple[frozenset[str], ...]]] = set()
        for emotion, sections in entries.items():
            if not isinstance(sections, dict):
                raise InputError(f"not a valid lexicon (category {emotion!r} must map "
                                 "sections to lists)", source)
            for kind, terms in sections.items():
                if kind not in POS_KINDS:
                    raise InputError(f"not a valid lexicon (unknown section {kind!r} under "
                                     f"{emotion!r}; use one of {', '.join(POS_KINDS)})", source)
                for term in terms or []:
                    self._add_term(str(term).strip(), kind, emotion)

    def _add_single(self, form: str, lemma: str, emotion: str) -> None:
        self.single[form.lower()][emotion].add(lemma)

    def _add_multi(self, slots: list[str], lemma: str, emotion: str) -> None:
        pattern = tuple(_expand_token(t) for t in slots)
        self._patterns.add((emotion, pattern))
        for first in pattern[0]:
            self.multi[first].append((lemma, emotion, pattern))

    def _add_term(self, term: str, kind: str, emotion: str) -> None:
        if kind == "idiom" or (" " in term and "~" not in term):
            words = term.split()
            term = " ".join(w.split("/")[0] for w in words)  # readable name in reports
            if kind == "verb" and len(words) > 1:
                head = "/".join(_verb_forms(words[0]))
                self._add_multi([head, *words[1:]], term, emotion)
            elif len(words) == 1:
                for alt in _expand_token(words[0]):
                    self._add_single(alt, term, emotion)
            else:
                self._add_multi(words, term, emotion)
            return
        parts = term.split("~")
        closed = "".join(parts)
        inflect = {"adj": _adj_forms, "noun": lambda w: [w, *_plural(w)],
                   "verb": _verb_forms, "exact": lambda w: [w]}[kind]
        forms = inflect(closed)
        for form in forms:
            self._add_single(form, term, emotion)
        if len(parts) > 1:
            # open and hyphenated compounds ("heart broken", "heart-broken"), last part inflected
            last_forms = {f[len(closed) - len(parts[-1]):] for f in forms if f.startswith(closed[
                : len(closed) - len(parts[-1])])}
            self._add_multi([*parts[:-1], "/".join(sorted(last_forms))], term, emotion)
        # some entries are themselves hyphenated ("tear-stained"): tokens split on hyphens
        if "-" in closed:
            self._add_multi(closed.split("-"), term, emotion)

    # ---- statistics -------------------------------------------------------------------------
    def surface_forms(self) -> int:
        """Distinct single-token forms plus distinct multi-token patterns."""
        return len(self.single) + len({p for _, p in self._patterns})

    def forms_by_category(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for emos in self.single.values():
            for e in emos:
                counts[e] += 1
        for e, _ in self._patterns:
            counts[e] += 1
        return {c: counts[c] for c in self.categories}

    # ---- matching ---------------------------------------------------------------------------
    def screen(self, text: str) -> list[Hit]:
        """All lexicon hits in ``text``, in order of position."""
        if not text:
            return []
        tokens = [(m.group(0).lower().replace("’", "'"), m.start(), m.end())
                  for m in _TOKEN.finditer(text)]
        hits: list[Hit] = []
        for i, (tok, start, end) in enumerate(tokens):
            keys = [tok]
            if tok.endswith("'s") and len(tok) > 2:
                keys.append(tok[:-2])
            for key in keys:
                found = self.single.get(key)
                if found:
                    emotions = tuple(sorted(found))
                    lemma = sorted({lem for lems in found.values() for lem in lems})[0]
                    hits.append(Hit(lemma, text[start:end], emotions, start, end))
                    break
            for key in keys:
                for lemma, emotion, pattern in self.multi.get(key, ()):
                    stop = self._match_pattern(text, tokens, i, pattern)
                    if stop is not None:
                        hits.append(Hit(lemma, text[start:stop], (emotion,), start, stop))
        return _merge_hits(hits)

    @staticmethod
    def _match_pattern(text: str, tokens: list[tuple[str, int, int]], i: int,
                       pattern: tuple[frozenset[str], ...]) -> int | None:
        if i + len(pattern) > len(tokens):
            return None
        for k in range(1, len(pattern)):
            tok, start, _ = tokens[i + k]
            prev_end = tokens[i + k - 1][2]
            if not _GAP.fullmatch(text[prev_end:start]):
                return None
            slot = pattern[k]
            if tok not in slot and "*" not in slot:
                return None
        return tokens[i + len(pattern) - 1][2]


def _merge_hits(hits: list[Hit]) -> list[Hit]:
    """Deduplicate identical spans reported by several entries, keeping all their emotions."""
    by_span: dict[tuple[int, int], Hit] = {}
    for h in hits:
        key = (h.start, h.end)
        if key in by_span:
            old = by_span[key]
            by_span[key] = Hit(old.term, old.matched,
                               tuple(sorted(set(old.emotions) | set(h.emotions))), h.start, h.end)
        else:
            by_span[key] = h
    return sorted(by_span.values(), key=lambda h: (h.start, h.end))


def default_lexicon_path() -> Path:
    return package_data_dir() / "lexicon" / "emotion_terms.yaml"


@lru_cache(maxsize=8)
def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """Load and compile a lexicon YAML (the shipped one by default); cached per path.

    A lexicon can be the user's own (``gate --lexicon``), so a missing or malformed file is an
    :class:`InputError` naming the file, never a traceback.
    """
    p = Path(path) if path is not None else default_lexicon_path()
    if not p.is_file():
        raise InputError("lexicon file not found", str(p))
    try:
        with p.open(encoding="utf-8") as fh:
            entries = yaml.safe_load(fh)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"not a valid lexicon ({first})", str(p)) from None
    if not isinstance(entries, dict):
        raise InputError("not a valid lexicon (expected a mapping of categories to sections)",
                         str(p))
    return Lexicon(entries, source=str(p))


def screen_text(text: str, lexicon: Lexicon | None = None) -> list[Hit]:
    """Convenience wrapper: screen one text with the shipped lexicon."""
    return (lexicon or load_lexicon()).screen(text)


def own_emotion_hits(hits: Iterable[Hit], emotion: str) -> list[Hit]:
    return [h for h in hits if emotion in h.emotions]
