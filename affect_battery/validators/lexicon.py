"""The explicit emotion-term lexicon and the keyword screen built on it.

The lexicon (``data/lexicon/emotion_terms.yaml``) lists lemmas by part of speech; this module
generates their inflections and matches them on whole tokens, so "scared" fires on "Scared"
but never inside "scarecrow", and hyphenated or open compounds ("heart-broken") are caught.
Matching is token-based (a dictionary lookup per token, plus short idiom walks), which keeps the
cost linear in text length however large the lexicon grows.

Two tiers, because a keyword screen has two kinds of mistake to avoid:

- **error**: words whose ordinary sense names or displays an emotion ("furious", "relief",
  "heart sank"). A hit fails a keyword-free item.
- **review**: words with a common literal sense ("beam", "console", "shaken", "a rock",
  "satisfaction", "smile", "felt"). A hit is a warning with its context, never a failure, so a
  keyword-free vignette about a laser beam or a game console is not rejected, while a reviewer
  still sees every place where the word could be doing emotional work.

Context rules (the ``rules`` block of the YAML) decide the cases a single word cannot:
``literal`` collocations drop a hit ("nervous system", "shaken hands", "pain relief"),
``review`` collocations turn an error into a warning ("horror film"), and ``promote`` rules
turn a review hit into an error ("felt shaken", "beamed at her", "a smile of relief"). Rules are
indexed by the word they apply to and only run on tokens that already hit, so they cost nothing
on clean text.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any

from .._util.cache import cached_path, store
from .._version import __version__
from ..core.paths import package_data_dir
from ..errors import InputError

_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# between two words of an idiom: spaces or hyphens, after an optional closing apostrophe
# ("at her wits' end")
_GAP = re.compile(r"['’]?[\s\-‐‑‒–—]+")
_VOWELS = set("aeiou")
PRONOUNS = ("his", "her", "their", "its", "my", "your", "our", "him", "them", "me", "us",
            "you", "it", "one's", "someone's", "everyone's")
REFLEXIVES = ("himself", "herself", "themselves", "themself", "myself", "yourself",
              "ourselves", "itself", "oneself")
OBJECTS = ("him", "her", "them", "me", "us", "you")
"""``{obj}``: a person as object ("snapped at {obj}"), never "it"."""
SUBJECTS = ("he", "she", "they", "i", "we", "you")
"""``{subj}``: a person as subject ("{subj} beamed"); a name is not matched, so stays review."""
DEGREE = ("so", "very", "too", "quite", "rather", "really", "deeply", "truly", "suddenly",
          "oddly", "strangely", "slightly", "somewhat", "more", "less", "most", "increasingly",
          "genuinely", "utterly", "completely", "thoroughly", "visibly", "clearly", "still",
          "almost", "just", "all", "briefly", "faintly", "mildly", "vaguely", "immensely",
          "hugely", "profoundly", "obviously", "noticeably", "acutely", "intensely", "totally",
          "absolutely", "incredibly", "extremely", "pretty", "fairly", "strongly", "palpably")
"""``{deg}``: a degree or manner adverb between a verb and its complement ("felt so small")."""
POS_KINDS = ("adj", "noun", "verb", "exact", "idiom")
SECTIONS = (*POS_KINDS, "review")
TIERS = ("error", "review")
RULES_KEY = "rules"
RULE_ACTIONS = ("literal", "review", "promote")
_HIT, _REVIEW, _ERROR = "{hit}", "{review}", "{error}"
_SPECIAL = frozenset((_HIT, _REVIEW, _ERROR))
_PLACEHOLDERS = {"{pron}": PRONOUNS, "{pron}self": REFLEXIVES, "{obj}": OBJECTS,
                 "{subj}": SUBJECTS, "{deg}": DEGREE}


@dataclass(frozen=True)
class Hit:
    """One lexicon match: which entry, for which emotion(s), where in the text.

    ``tier`` is ``"error"`` (fails a keyword-free item) or ``"review"`` (a warning). A review
    hit carries ``context`` (the words around it, the hit in ``[[...]]``) and, where the lexicon
    gives one, ``note`` (the literal sense to rule out). ``rule`` names the context rule that
    decided the tier, if one did.
    """

    term: str
    matched: str
    emotions: tuple[str, ...]
    start: int
    end: int
    tier: str = "error"
    context: str = ""
    rule: str = ""
    note: str = ""


@dataclass(frozen=True)
class Rule:
    """A context rule: token slots, one of them (``target``) the word the rule decides."""

    action: str
    text: str
    slots: tuple[frozenset[str], ...]
    target: int


@dataclass
class _Raw:
    """A hit while the rules run: token span, mutable tier, and whether it still stands."""

    term: str
    emotions: set[str]
    tier: str
    first: int
    last: int
    start: int
    end: int
    word: bool = True  # a word entry (incl. compounds), not an idiom
    rule: str = ""
    alive: bool = field(default=True)


def _plural(w: str) -> list[str]:
    if w.endswith(("s", "x", "z", "ch", "sh")):
        return [w + "es", w]
    if w.endswith("o") and len(w) > 1 and w[-2] not in _VOWELS:
        return [w + "es", w + "s"]  # heroes, but photos
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
    elif w.endswith("ee"):
        forms += [w + "d", w + "ing"]
    elif w.endswith("e"):
        forms += [w + "d", w[:-1] + "ing"]
    elif w.endswith("y") and w[-2] not in _VOWELS:
        forms += [w[:-1] + "ied", w + "ing"]
    else:
        forms += [w + "ed", w + "ing"]
        if _cvc(w):
            forms += [w + w[-1] + "ed", w + w[-1] + "ing"]
    return forms


def _adj_forms(w: str) -> list[str]:
    forms = [w]
    if w.endswith("y") and len(w) > 3 and w[-2] not in _VOWELS:
        forms += [w[:-1] + "ily", w[:-1] + "ier", w[:-1] + "iest", w[:-1] + "iness"]
    elif w.endswith("ic"):
        forms += [w + "ally"]
    elif w.endswith("le") and not w.endswith("ile"):
        forms += [w[:-1] + "y", w + "ness"]
    elif w.endswith("ll"):
        forms += [w + "y", w + "ness"]
    elif w.endswith("ie"):
        forms += [w[:-2] + "ily", w + "ness"]  # eerie -> eerily
    else:
        forms += [w + "ly", w + "ness"]
    if len(w) <= 6 and not w.endswith(("ed", "ing", "ful", "ous", "ive", "ic", "al")):
        if w.endswith("e"):
            forms += [w + "r", w + "st"]
        elif not w.endswith("y") or len(w) <= 3:  # shy -> shyer, but not happy -> happyer
            forms += [w + "er", w + "est"]
            if _cvc(w):
                forms += [w + w[-1] + "er", w + w[-1] + "est"]
    return forms


_INFLECT = {"adj": _adj_forms, "noun": lambda w: [w, *_plural(w)], "verb": _verb_forms,
            "exact": lambda w: [w]}


@lru_cache(maxsize=4096)
def _expand_token(tok: str) -> frozenset[str]:
    """One slot: alternatives separated by '/', with placeholders expanded (cached: the same
    slots recur across entries and rules, and compiling is on the gate's start-up path)."""
    out: set[str] = set()
    for alt in tok.lower().split("/"):
        if alt in _PLACEHOLDERS:
            out.update(_PLACEHOLDERS[alt])
        elif alt == "{any}":
            out.add("*")
        else:
            out.add(alt.replace("’", "'"))
    return frozenset(out)


def _variants(words: list[str]) -> list[list[str]]:
    """Every reading of a pattern whose optional slots (a trailing '?') are kept or left out."""
    options = [[w[:-1], None] if w.endswith("?") and len(w) > 1 else [w] for w in words]
    return [[w for w in combo if w is not None] for combo in product(*options)]


def context_snippet(text: str, start: int, end: int, width: int = 45) -> str:
    """The words around ``text[start:end]``, the match in ``[[...]]``, cut at word boundaries.

    Why: a review hit is judged by a person, who needs to see how the word is used without
    opening the file; non-printable characters are escaped so the snippet can never break a
    report line.
    """
    lo, hi = max(0, start - width), min(len(text), end + width)
    if lo > 0:
        space = text.find(" ", lo, start)
        lo = space + 1 if space != -1 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space != -1 else hi
    out = (("..." if lo > 0 else "") + text[lo:start] + "[[" + text[start:end] + "]]"
           + text[end:hi] + ("..." if hi < len(text) else ""))
    out = " ".join(out.split())
    if not out.isprintable():
        out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in out)
    return out


class Lexicon:
    """Compiled lexicon: single-token forms in dicts (one per tier), idioms indexed by their
    first token, context rules indexed by the word they decide."""

    def __init__(self, entries: Mapping[str, Any], source: str = "<memory>") -> None:
        self.source = source
        self.categories: tuple[str, ...] = tuple(k for k in entries if k != RULES_KEY)
        # plain dicts filled with setdefault: a lookup of an unknown token never inserts it
        self.single: dict[str, dict[str, set[str]]] = {}
        self.review_single: dict[str, dict[str, set[str]]] = {}
        self.multi: dict[str, list[tuple[str, str, tuple[frozenset[str], ...], str, bool]]] = {}
        self.notes: dict[str, str] = {}
        self.filter_rules: dict[str, list[Rule]] = {}
        self.promote_rules: dict[str, list[Rule]] = {}
        self.names: frozenset[str] = frozenset()
        self.rules: list[Rule] = []
        self._patterns: set[tuple[str, tuple[frozenset[str], ...], str]] = set()
        for emotion in self.categories:
            sections = entries[emotion]
            if not isinstance(sections, dict):
                raise InputError(f"not a valid lexicon (category {emotion!r} must map "
                                 "sections to lists)", source)
            for kind, terms in sections.items():
                if kind == "review":
                    self._add_review(terms, emotion)
                    continue
                if kind not in POS_KINDS:
                    raise InputError(f"not a valid lexicon (unknown section {kind!r} under "
                                     f"{emotion!r}; use one of {', '.join(SECTIONS)})", source)
                for term in self._term_list(terms, emotion, kind):
                    self._add_term(str(term).strip(), kind, emotion, "error")
        self._add_rules(entries.get(RULES_KEY))
        self._index = self._build_index()

    def _build_index(self) -> dict[str, tuple[str, dict[str, set[str]] | None, str, list[Any]]]:
        """One entry per token that can start a hit: (tier, emotions->lemmas, lemma, idioms).

        Why: screening is on the gate's hot path and most tokens hit nothing, so a token should
        cost exactly one dict lookup, however many tiers and idiom tables there are.
        """
        index = {}
        for key in {*self.single, *self.review_single, *self.multi}:
            found, tier = self.single.get(key), "error"
            if not found:
                found, tier = self.review_single.get(key), "review"
            lemma = min(lem for lems in found.values() for lem in lems) if found else ""
            index[key] = (tier if found else "", found, lemma, self.multi.get(key, []))
        return index

    # ---- compiling ----------------------------------------------------------------------------
    def _term_list(self, terms: object, emotion: str, kind: str) -> list[object]:
        if terms is None:
            return []
        if isinstance(terms, dict):  # review entries may carry their literal sense
            return list(terms)
        if not isinstance(terms, list):
            raise InputError(f"not a valid lexicon (section {kind!r} under {emotion!r} must "
                             "be a list)", self.source)
        return terms

    def _add_review(self, sections: object, emotion: str) -> None:
        if not isinstance(sections, dict):
            raise InputError(f"not a valid lexicon (review under {emotion!r} must map "
                             "sections to lists or to term: literal-sense mappings)",
                             self.source)
        for kind, terms in sections.items():
            if kind not in POS_KINDS:
                raise InputError(f"not a valid lexicon (unknown section {kind!r} under "
                                 f"{emotion!r}.review; use one of {', '.join(POS_KINDS)})",
                                 self.source)
            notes = terms if isinstance(terms, dict) else {}
            for term in self._term_list(terms, emotion, kind):
                name = self._add_term(str(term).strip(), kind, emotion, "review")
                if notes.get(term):
                    self.notes[name] = str(notes[term])

    def _add_single(self, form: str, lemma: str, emotion: str, tier: str) -> None:
        table = self.single if tier == "error" else self.review_single
        table.setdefault(form.lower(), {}).setdefault(emotion, set()).add(lemma)

    def _add_multi(self, slots: list[str], lemma: str, emotion: str, tier: str,
                   word: bool = False) -> None:
        for variant in _variants(slots):
            pattern = tuple(_expand_token(t) for t in variant)
            if len(pattern) == 1:  # an idiom whose optional words were all left out
                for alt in pattern[0]:
                    self._add_single(alt, lemma, emotion, tier)
                continue
            self._patterns.add((emotion, pattern, tier))
            entry = (lemma, emotion, pattern, tier, word)
            for first in pattern[0]:
                self.multi.setdefault(first, []).append(entry)

    def _add_term(self, term: str, kind: str, emotion: str, tier: str) -> str:
        """Compile one entry; returns its readable name (the ``term`` of its hits)."""
        if kind == "idiom" or (" " in term and "~" not in term):
            words = term.split()
            term = " ".join(w.split("/")[0].rstrip("?") for w in words)  # readable name
            if kind == "verb" and len(words) > 1:
                head = "/".join(_verb_forms(words[0]))
                self._add_multi([head, *words[1:]], term, emotion, tier)
            elif len(words) == 1:
                for alt in _expand_token(words[0]):
                    self._add_single(alt, term, emotion, tier)
            else:
                self._add_multi(words, term, emotion, tier)
            return term
        parts = term.split("~")
        closed = "".join(parts)
        forms = _INFLECT[kind](closed)
        for form in forms:
            self._add_single(form, term, emotion, tier)
        if len(parts) > 1:
            # open and hyphenated compounds ("heart broken", "heart-broken"), last part inflected
            last_forms = {f[len(closed) - len(parts[-1]):] for f in forms if f.startswith(closed[
                : len(closed) - len(parts[-1])])}
            self._add_multi([*parts[:-1], "/".join(sorted(last_forms))], term, emotion, tier,
                            word=True)
        # some entries are themselves hyphenated ("tear-stained"): tokens split on hyphens
        if "-" in closed:
            self._add_multi(closed.split("-"), term, emotion, tier, word=True)
        return term

    def _add_rules(self, rules: object) -> None:
        if rules is None:
            return
        if not isinstance(rules, dict):
            raise InputError("not a valid lexicon (rules must map literal, review, promote "
                             "and names to lists)", self.source)
        for action, items in rules.items():
            if action == "names":
                self.names = frozenset(str(n).lower() for n in items or [])
                continue
            if action not in RULE_ACTIONS:
                raise InputError(f"not a valid lexicon (unknown rule kind {action!r}; use one "
                                 f"of {', '.join((*RULE_ACTIONS, 'names'))})", self.source)
            for text in items or []:
                for rule in self._compile_rule(str(text).strip(), action):
                    self.rules.append(rule)
                    index = self.promote_rules if action == "promote" else self.filter_rules
                    for key in rule.slots[rule.target]:
                        index.setdefault(key, []).append(rule)

    def _compile_rule(self, text: str, action: str) -> list[Rule]:
        words = text.split()
        marked = [i for i, w in enumerate(words) if w.startswith("[") and w.endswith("]")]
        if len(marked) != 1:
            raise InputError(f"not a valid lexicon (rule {text!r} must mark exactly one word "
                             "as [target])", self.source)
        words[marked[0]] = "\0" + words[marked[0]][1:-1]
        out = []
        for variant in _variants(words):
            target = next(i for i, w in enumerate(variant) if w.startswith("\0"))
            variant[target] = variant[target][1:]
            slots = tuple(_expand_token(w) for w in variant)
            special = [i for i, s in enumerate(slots) if s & _SPECIAL]
            if (any(i < target or len(slots[i]) > 1 for i in special) or "*" in slots[target]
                    or _ERROR in slots[target]):
                raise InputError(f"not a valid lexicon (rule {text!r}: {{hit}}, {{review}} and "
                                 "{error} stand alone in their slot and only follow the "
                                 "target ({hit} or {review} may be it); {any} is never the "
                                 "target)", self.source)
            out.append(Rule(action, text, slots, target))
        return out

    # ---- a compiled form that loads fast -----------------------------------------------------
    STATE_VERSION = 2

    def to_state(self) -> dict[str, Any]:
        """The compiled lexicon as plain JSON data (no pickle: a cache entry cannot run code).

        Token slots repeat across thousands of idiom and rule variants ("{pron}" expands to 16
        words), so each distinct slot is stored once and referred to by number.
        """
        slot_ids: dict[frozenset[str], int] = {}

        def ref(slots: tuple[frozenset[str], ...]) -> list[int]:
            return [slot_ids.setdefault(s, len(slot_ids)) for s in slots]

        def table(t: dict[str, dict[str, set[str]]]) -> dict[str, dict[str, list[str]]]:
            return {k: {e: sorted(v) for e, v in d.items()} for k, d in t.items()}

        multi = {k: [[lemma, emo, ref(pat), tier, word] for lemma, emo, pat, tier, word in v]
                 for k, v in self.multi.items()}
        rules = [[r.action, r.text, ref(r.slots), r.target] for r in self.rules]
        return {"state_version": self.STATE_VERSION, "source": self.source,
                "categories": list(self.categories), "single": table(self.single),
                "review_single": table(self.review_single), "multi": multi,
                "notes": self.notes, "names": sorted(self.names), "rules": rules,
                "slots": [sorted(s) for s in sorted(slot_ids, key=slot_ids.__getitem__)],
                "index": {k: [tier, lemma] for k, (tier, _, lemma, _) in self._index.items()}}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Lexicon:
        """Rebuild a lexicon from :meth:`to_state`; a malformed state raises ``ValueError``."""
        if state.get("state_version") != cls.STATE_VERSION:
            raise ValueError("lexicon state of another version")
        try:
            slots = [frozenset(s) for s in state["slots"]]
            lex = cls.__new__(cls)
            lex.source = str(state["source"])
            lex.categories = tuple(state["categories"])
            # lemma lists stay lists: matching reads only a form's emotions (the keys)
            lex.single = dict(state["single"])
            lex.review_single = dict(state["review_single"])
            lex.multi = {k: [(lemma, emo, tuple(slots[i] for i in pat), tier, bool(word))
                             for lemma, emo, pat, tier, word in v]
                         for k, v in state["multi"].items()}
            lex.notes = dict(state["notes"])
            lex.names = frozenset(state["names"])
            lex.rules, lex.filter_rules, lex.promote_rules = [], {}, {}
            for action, text, pat, target in state["rules"]:
                rule = Rule(action, text, tuple(slots[i] for i in pat), int(target))
                lex.rules.append(rule)
                index = lex.promote_rules if action == "promote" else lex.filter_rules
                for key in rule.slots[rule.target]:
                    index.setdefault(key, []).append(rule)
            lex._patterns = {(emo, pat, tier) for v in lex.multi.values()
                             for _, emo, pat, tier, _ in v}
            single, review, multi = lex.single, lex.review_single, lex.multi
            lex._index = {k: (tier, (single if tier == "error" else review).get(k)
                              if tier else None, lemma, multi.get(k, []))
                          for k, (tier, lemma) in state["index"].items()}
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed lexicon state ({type(exc).__name__})") from None
        return lex

    # ---- statistics ---------------------------------------------------------------------------
    def surface_forms(self) -> int:
        """Distinct error-tier single-token forms plus distinct error-tier multi-token patterns."""
        return len(self.single) + len({p for _, p, t in self._patterns if t == "error"})

    def review_forms(self) -> int:
        """The same count for the review tier (forms that are not also error-tier forms)."""
        return (len(set(self.review_single) - set(self.single))
                + len({p for _, p, t in self._patterns if t == "review"}))

    def forms_by_category(self) -> dict[str, int]:
        """Error-tier surface forms per category."""
        counts: dict[str, int] = defaultdict(int)
        for emos in self.single.values():
            for e in emos:
                counts[e] += 1
        for e, _, tier in self._patterns:
            if tier == "error":
                counts[e] += 1
        return {c: counts[c] for c in self.categories}

    # ---- matching -----------------------------------------------------------------------------
    def screen(self, text: str) -> list[Hit]:
        """All lexicon hits in ``text``, in order of position, each with its tier."""
        if not text:
            return []
        tokens = [(m.group(0).lower().replace("’", "'"), m.start(), m.end())
                  for m in _TOKEN.finditer(text)]
        raws = self._raw_hits(text, tokens)
        if not raws:
            return []
        if self.names:
            self._apply_names(text, tokens, raws)
        if self.filter_rules:
            self._apply_rules(text, tokens, raws, self.filter_rules)
        if self.promote_rules:
            self._apply_rules(text, tokens, raws, self.promote_rules)
        return self._finish(text, raws)

    def _raw_hits(self, text: str, tokens: list[tuple[str, int, int]]) -> list[_Raw]:
        raws: list[_Raw] = []
        get = self._index.get
        for i, (tok, start, end) in enumerate(tokens):
            first = get(tok)
            possessive = get(tok[:-2]) if tok.endswith("'s") and len(tok) > 2 else None
            if first is None and possessive is None:  # the common case: one dict miss
                continue
            entries = (first, possessive)  # "fear's" is also "fear"
            for e in entries:
                if e is not None and e[1]:
                    raws.append(_Raw(e[2], set(e[1]), e[0], i, i, start, end))
                    break
            for e in entries:
                if e is None:
                    continue
                for lemma, emotion, pattern, tier, word in e[3]:
                    last = self._match_pattern(text, tokens, i, pattern)
                    if last is not None:
                        raws.append(_Raw(lemma, {emotion}, tier, i, last, start,
                                         tokens[last][2], word=word))
        return raws

    @staticmethod
    def _match_pattern(text: str, tokens: list[tuple[str, int, int]], i: int,
                       pattern: tuple[frozenset[str], ...]) -> int | None:
        if i + len(pattern) > len(tokens):
            return None
        for k in range(1, len(pattern)):
            tok, start, _ = tokens[i + k]
            slot = pattern[k]
            if tok not in slot and "*" not in slot:  # the cheap test first
                return None
            if not _GAP.fullmatch(text, tokens[i + k - 1][2], start):
                return None
        return i + len(pattern) - 1

    def _apply_names(self, text: str, tokens: list[tuple[str, int, int]],
                     raws: list[_Raw]) -> None:
        """A capitalised "Hope" or "Joy" inside a sentence is probably a name: review it."""
        for r in raws:
            if r.first != r.last or not text[r.start].isupper():
                continue
            tok = tokens[r.first][0]
            if (tok[:-2] if tok.endswith("'s") else tok) not in self.names:
                continue
            j = r.start - 1
            while j >= 0 and (text[j].isspace() or text[j] in "\"'“”‘’([*_—–-"):
                j -= 1
            if j >= 0 and text[j] not in ".!?:;…":
                r.tier, r.rule = "review", "names"

    def _apply_rules(self, text: str, tokens: list[tuple[str, int, int]], raws: list[_Raw],
                     index: dict[str, list[Rule]]) -> None:
        """Run one family of rules (filters or promotions) over the hits, in text order."""
        for r in list(raws):
            if not r.alive or (index is self.promote_rules and r.tier != "review"):
                continue
            tok = tokens[r.first][0]
            keys = [tok, _HIT] + ([_REVIEW] if r.tier == "review" else [])
            if tok.endswith("'s"):
                keys.append(tok[:-2])
            for key in keys:
                done = False
                for rule in index.get(key, ()):
                    span = self._match_rule(text, tokens, rule, r, raws)
                    if span is None:
                        continue
                    self._apply(rule, r, span, raws, tokens)
                    done = True
                    break
                if done or not r.alive:
                    break

    def _match_rule(self, text: str, tokens: list[tuple[str, int, int]], rule: Rule, r: _Raw,
                    raws: list[_Raw]) -> tuple[int, int, list[_Raw]] | None:
        slots, target = rule.slots, rule.target
        start = r.first - target
        if start < 0:
            return None
        for k in range(target):
            slot, tok = slots[k], tokens[start + k][0]
            if (tok not in slot and "*" not in slot) or not _GAP.fullmatch(
                    text, tokens[start + k][2], tokens[start + k + 1][1]):
                return None
        tslot = slots[target]
        if tslot & _SPECIAL:
            if (_REVIEW in tslot and r.tier != "review") or not r.word:
                return None
            pos = r.last
        else:
            pos = r.first
        used: list[_Raw] = []
        for slot in slots[target + 1:]:
            nxt = pos + 1
            if nxt >= len(tokens) or not _GAP.fullmatch(text, tokens[pos][2], tokens[nxt][1]):
                return None
            if slot & _SPECIAL:
                found = [h for h in raws if h.alive and h.first == nxt and h.word
                         and (_HIT in slot or (_REVIEW in slot) == (h.tier == "review"))]
                if not found:
                    return None
                best = max(found, key=lambda h: h.last)
                used.append(best)
                pos = best.last
            elif tokens[nxt][0] in slot or "*" in slot:
                pos = nxt
            else:
                return None
        return start, pos, used

    @staticmethod
    def _apply(rule: Rule, r: _Raw, span: tuple[int, int, list[_Raw]], raws: list[_Raw],
               tokens: list[tuple[str, int, int]]) -> None:
        first, last, used = span
        last = max(last, r.last)
        if rule.action == "literal":
            r.alive = False
        elif rule.action == "review":
            r.tier, r.rule = "review", rule.text
        else:  # promote: one error hit over the whole context, absorbing the hits inside it
            # "felt nervous" is fear, "a smile of relief" relief: the emotion word decides
            emotions = set().union(*(h.emotions for h in used)) if used else set(r.emotions)
            for h in raws:
                if h.alive and first <= h.first and h.last <= last:
                    h.alive = False
            raws.append(_Raw(r.term, emotions, "error", first, last, tokens[first][1],
                             tokens[last][2], word=False, rule=rule.text))

    def _finish(self, text: str, raws: list[_Raw]) -> list[Hit]:
        alive = [r for r in raws if r.alive]
        errors = [r for r in alive if r.tier == "error"]
        by_span: dict[tuple[int, int], _Raw] = {}
        for r in alive:
            if r.tier == "review" and any(e.start < r.end and r.start < e.end for e in errors):
                continue  # a warning inside an error says nothing new
            if r.tier == "error" and any(
                    e is not r and e.start <= r.start and r.end <= e.end
                    and e.end - e.start > r.end - r.start and r.emotions <= e.emotions
                    for e in errors):
                continue  # "freaked" inside "freaked out": one finding per phrase
            key = (r.start, r.end)
            old = by_span.get(key)
            if old is None:
                by_span[key] = r
            else:  # identical spans from several entries: one hit, all their emotions
                old.emotions |= r.emotions
                if r.tier == "error" and old.tier == "review":
                    old.tier, old.term, old.rule = "error", r.term, r.rule
        hits = []
        for r in sorted(by_span.values(), key=lambda h: (h.start, h.end)):
            review = r.tier == "review"
            hits.append(Hit(r.term, text[r.start:r.end], tuple(sorted(r.emotions)), r.start,
                            r.end, r.tier,
                            context_snippet(text, r.start, r.end) if review else "",
                            r.rule, self.notes.get(r.term, "") if review else ""))
        return hits


def default_lexicon_path() -> Path:
    return package_data_dir() / "lexicon" / "emotion_terms.yaml"



@lru_cache(maxsize=8)
def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """Load and compile a lexicon YAML (the shipped one by default); cached per path in the
    process and, compiled, in the user's derived-data cache (keyed by the file's bytes).

    Why the disk cache: parsing the YAML and expanding every inflection, idiom and rule variant
    is a fixed cost of each ``gate`` process, which CI pays on every commit; the compiled JSON
    reads back several times faster. A lexicon can be the user's own (``gate --lexicon``), so a
    missing or malformed file is an :class:`InputError` naming the file, never a traceback.
    """
    p = Path(path) if path is not None else default_lexicon_path()
    if not p.is_file():
        raise InputError("lexicon file not found", str(p))
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read lexicon ({exc.strerror or exc})", str(p)) from None
    key = hashlib.sha256(b"lexicon\0" + __version__.encode() + b"\0" + raw).hexdigest()
    cached = _cached_lexicon(key, str(p))
    if cached is not None:
        return cached
    lexicon = _compile_lexicon(raw, p)
    store(key, ".lexicon.json",
          lambda tmp: tmp.write_text(json.dumps(lexicon.to_state(), separators=(",", ":")),
                                     encoding="utf-8"))
    return lexicon


def _cached_lexicon(key: str, source: str) -> Lexicon | None:
    """The compiled lexicon from the derived-data cache; None if absent or unusable."""
    path = cached_path(key, ".lexicon.json")
    if path is None:
        return None
    paused = gc.isenabled()
    gc.disable()  # ~50,000 new acyclic objects would set off full collections over the
    try:          # whole process (pandas and pandera included): most of the load's cost
        lexicon = Lexicon.from_state(json.loads(path.read_bytes()))
    except (OSError, ValueError, AttributeError):  # a stale or foreign entry: recompile
        return None
    finally:
        if paused:
            gc.enable()
    lexicon.source = source
    return lexicon


def _compile_lexicon(raw: bytes, p: Path) -> Lexicon:
    import yaml  # only when the compiled form is not cached: a gate run rarely needs it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses ~8x faster
    try:
        entries = yaml.load(raw.decode("utf-8"), Loader=loader)  # a safe loader (C or Python)
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


def own_emotion_hits(hits: Iterable[Hit], emotion: str, tier: str | None = "error"
                     ) -> list[Hit]:
    """Hits of ``emotion`` (error tier by default: a review word never counts as explicit)."""
    return [h for h in hits if emotion in h.emotions and (tier is None or h.tier == tier)]
