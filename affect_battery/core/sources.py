"""Any battery as ours: ``load_source(spec)`` reads a folder, a file or ``hf:ORG/NAME[@rev]``.

Why: a researcher should be able to run the defence battery and the analyses on another team's
battery and compare the two side by side. Every check and analysis of this package reads one
frame in our schema (``core.columns``) with our ids (``core.ids``), so the cheapest honest way
is to map the other battery onto that frame once, keep each original id beside the new one, and
say plainly which checks the other battery cannot support (no keyword-rich twins: no twin
checks; no stored norms: no norms section; ...). The defence battery then records those as
"not computed" instead of failing or, worse, reporting numbers about splits that do not exist.

Layouts read (``fmt="auto"`` tells them apart by their files and ids):

``affect-battery``
    a data folder like ``AFFECT_BATTERY_DATA`` (``stimuli/<emotion>.jsonl``,
    ``stimuli/complex_neutral.jsonl``, optional ``norms/ratings.jsonl``), the ``stimuli/``
    folder itself, an ``export`` folder (``data/<split>-*.parquet``; class labels decoded;
    ratings from ``norms/ratings-*.parquet``), or one file of items with our ids.

``aipsy``: the AIPsy-Affect layout, as described to us (no files of that battery were read)
    splits ``clinical``, ``neutral``, ``moderate`` and ``complex_neutral`` (no keyword-rich
    split); columns ``id, emotion, intensity, domain, domain_label, matched_control_id,
    word_count, text``; ids such as ``B-rage-d1-v1`` (clinical) and ``N-rage-d1-c1`` (its
    neutral control) built on Plutchik's intense-ring labels (rage, terror, grief, loathing,
    amazement, admiration, ecstasy, vigilance for anger, fear, sadness, disgust, surprise,
    trust, joy, anticipation).

Assumptions where that description leaves details open (each one is checked, and a row that
breaks it stops the import with one line naming file, line and id):

- files: one per split, named by the split: ``data/<split>-*.parquet`` (a Hub dataset folder),
  or ``<split>.jsonl|.csv|.parquet`` in the folder or its ``data/``; or one file whose rows
  carry a ``split`` column (else the split is read from the id prefix: B clinical, N neutral,
  M moderate). Extra columns are ignored; ``id`` and ``text`` are required.
- scenario ids are ``<PREFIX>-<label>-d<domain>-<letters><n>``; the label may come from any of
  Plutchik's three rings (intense, primary or mild: rage, anger or annoyance all mean anger),
  the domain is 1-9 and n 1-99. Moderate ids take the same form (e.g. ``M-rage-d1-v1`` or
  ``M-anger-d1-m1``); a moderate id that does not parse is mapped through its
  ``matched_control_id`` (its clinical item or neutral control) instead.
- a neutral control takes the number of the clinical item whose ``matched_control_id`` names
  it (else that of the clinical item it names, else its own ``c<n>``), so matched pairs stay
  pairs under our scheme, where the link is implied by the id.
- complex_neutral ids are free-form: each item becomes ``X-<theme>-NN`` with the theme from its
  ``domain_label`` (lower case, ``_`` between words; ``imported`` when blank) and NN its rank in
  natural id order within the theme, so the mapping does not depend on row order.
- the ``emotion`` column, where given, must name the id's emotion (any ring) on clinical and
  moderate rows; neutral rows may say neutral, none, or their scenario's emotion. Given
  ``intensity``, ``domain`` and ``word_count`` are not trusted: intensity follows the split,
  the domain the id, and counts are recomputed (whitespace words, as for our items).

Mapping: ``B-rage-d1-v1 -> C-anger-d1-1``, ``N-rage-d1-c1 -> N-anger-d1-1``,
``M-rage-d1-v1 -> M-anger-d1-1``. The original id stays in the provenance column
``source_item_id``, which is never one of the stimulus columns (so never in the digest).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from .._util.atomic import atomic_dir
from .._util.extras import MissingExtra
from ..errors import UsageError
from .battery import canonical_order, read_battery_with_findings, stimulus_files, with_norms
from .columns import COLUMNS, STIMULUS_SPEC, Column, arrow_table, is_missing
from .constants import EMOTIONS, INTENSE_NAMES, NEUTRAL, NONE, SPLITS
from .findings import Finding, InputError
from .ids import BadId, make_id, parse_id
from .items import PROVENANCE, _read_csv, _read_jsonl, _read_parquet, complete_items, printable
from .norms import RATING_FIELDS, load_ratings

Format = Literal["auto", "affect-battery", "aipsy"]
FORMATS: tuple[str, ...] = ("auto", "affect-battery", "aipsy")
SOURCE_ID = "source_item_id"
"""Provenance column: the item's id in the battery it was imported from."""

MILD_NAMES: dict[str, str] = {
    "joy": "serenity", "trust": "acceptance", "fear": "apprehension", "surprise": "distraction",
    "sadness": "pensiveness", "disgust": "boredom", "anger": "annoyance",
    "anticipation": "interest",
}
"""Plutchik's mild ring, accepted in imported ids and emotion columns beside the other two."""
RING_LABELS: dict[str, str] = {
    **{e: e for e in EMOTIONS},
    **{v: k for k, v in INTENSE_NAMES.items()},
    **{v: k for k, v in MILD_NAMES.items()},
}
"""Any ring's label -> the primary emotion it belongs to (rage -> anger, serenity -> joy)."""

AIPSY_PREFIX_SPLIT: dict[str, str] = {"B": "clinical", "N": "neutral", "M": "moderate"}
_AIPSY_ID = re.compile(r"^(?P<prefix>[A-Za-z]{1,3})-(?P<label>[a-z]+)-d(?P<domain>[0-9]+)-"
                       r"(?P<tag>[a-z]{0,3})(?P<n>[0-9]+)$")
_SPLIT_FILE = re.compile(r"^(?P<split>[a-z_]+?)(?:-[^.]*)?\.(?P<ext>jsonl|csv|parquet)$")
_READERS = {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet}
# The row readers of core.items, not read_items: that one refuses every column outside our
# schema, while a foreign battery's extra columns are simply not ours to read. The size limits,
# encoding checks and file:line errors are the same.
_HF_SPEC = re.compile(r"^hf:(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<rev>[\w./-]+))?$")
_HF_PATTERNS = ["*.parquet", "*.jsonl", "*.csv", "README.md"]
"""What ``hf:`` downloads (fnmatch: ``*`` spans folders): data files and the card only."""


@dataclass(frozen=True)
class Capability:
    """One family of checks: whether the battery supports it, and why not."""

    name: str
    available: bool
    reason: str = ""


@dataclass
class BatterySource:
    """A battery in our schema, wherever it came from, and what can be checked on it.

    ``frame`` has the stimulus columns (our ids), then ``source_item_id`` (the original id;
    equal to ``id`` for a battery already in our layout) and the ``_file``/``_line``
    provenance; :meth:`stimuli` is the frame every check reads.
    """

    spec: str
    name: str
    layout: str
    imported: bool
    frame: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)
    ratings: pd.DataFrame | None = None
    revision: str | None = None
    capabilities: dict[str, Capability] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def stimuli(self, norms: bool = False) -> pd.DataFrame:
        """Stimulus columns in the one row order (with the ``norm_*`` columns if asked)."""
        frame = canonical_order(self.frame)[list(COLUMNS)]
        if not norms:
            return frame
        # never the shipped ratings: a battery without its own has none
        ratings = self.ratings if self.ratings is not None else pd.DataFrame(
            {f: pd.Series(dtype=object) for f in RATING_FIELDS})
        return with_norms(frame, ratings)

    def not_computed(self) -> dict[str, str]:
        """``{check: reason}`` for every family of checks this battery cannot support."""
        return {c.name: c.reason for c in self.capabilities.values() if not c.available}

    def mapping(self) -> pd.DataFrame:
        """Original id beside our id, in our row order: the importer's mapping table."""
        return canonical_order(self.frame)[[SOURCE_ID, "id", "split", "source_emotion"]]

    def describe(self) -> dict[str, Any]:
        """Which battery this is, for reports, cards and ``--format json``."""
        return {"spec": self.spec, "name": self.name, "layout": self.layout,
                "imported": self.imported, "revision": self.revision,
                "n_items": len(self.frame),
                "not_computed": self.not_computed(), "notes": list(self.notes)}

    def note_text(self) -> str:
        """The notes as lines for a terminal (``stats``, ``validate``)."""
        head = (f"battery: {self.name} ({self.layout}" + (", imported" if self.imported else "")
                + (f", revision {self.revision}" if self.revision else "") + ")")
        return "\n".join([head, *(f"  {n}" for n in self.notes)]) + "\n"


# ---- the spec ----------------------------------------------------------------------------------

def parse_hf_spec(spec: str) -> tuple[str, str | None]:
    """``hf:ORG/NAME[@revision]`` -> (repo id, revision or None).

    >>> parse_hf_spec("hf:some-lab/aipsy-affect@v1.0")
    ('some-lab/aipsy-affect', 'v1.0')
    >>> parse_hf_spec("hf:org/name")
    ('org/name', None)
    """
    m = _HF_SPEC.match(spec)
    if not m:
        raise UsageError(f"--battery {printable(spec)!r}: expected hf:ORG/NAME or "
                         "hf:ORG/NAME@REVISION")
    return m["repo"], m["rev"]


def download_hf(repo_id: str, revision: str | None = None,
                cache_dir: str | Path | None = None) -> Path:
    """A local snapshot of a Hub dataset (only its data files and card).

    Goes through ``huggingface_hub.snapshot_download``, so an already cached snapshot is used
    offline (``HF_HUB_OFFLINE=1``) and a missing one fails with one line, not a traceback.
    """
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
    except ImportError:
        raise MissingExtra("hub", ["huggingface_hub"], f"--battery hf:{repo_id}") from None
    where = f"hf:{repo_id}" + (f"@{revision}" if revision else "")
    try:
        path = snapshot_download(repo_id, repo_type="dataset", revision=revision,
                                 cache_dir=cache_dir, allow_patterns=_HF_PATTERNS)
    except LocalEntryNotFoundError:
        raise InputError("cannot fetch the dataset: the Hub is unreachable (offline, or "
                         "HF_HUB_OFFLINE=1) and no snapshot of it is cached; download it "
                         "where the Hub is reachable, or pass a local folder", where) from None
    except RevisionNotFoundError:
        raise InputError(f"the dataset has no revision {revision!r}", where) from None
    except (RepositoryNotFoundError, GatedRepoError):
        raise InputError("no such dataset on the Hub, or it is private or gated (log in with "
                         "HF_TOKEN)", where) from None
    except HfHubHTTPError as exc:
        raise InputError(printable(f"the Hub refused the download ({_first_line(exc)})"),
                         where) from None
    except OSError as exc:
        raise InputError(printable(f"cannot store the download ({_first_line(exc)})"),
                         where) from None
    return Path(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def load_source(spec: str | Path, fmt: str = "auto",
                cache_dir: str | Path | None = None) -> BatterySource:
    """The battery named by ``spec`` (folder, file or ``hf:ORG/NAME[@rev]``) in our schema.

    ``fmt`` forces a layout (``affect-battery`` or ``aipsy``); ``auto`` tells them apart by
    the files and ids. Unusable input raises :class:`InputError` (one line naming file, line
    and id); an unknown ``fmt`` or spec raises ``UsageError``.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--battery-format: unknown {fmt!r}; use {', '.join(FORMATS)}")
    spec = str(spec)
    revision = None
    if spec.startswith("hf:"):
        repo_id, rev = parse_hf_spec(spec)
        root = download_hf(repo_id, rev, cache_dir)
        name, revision = repo_id, rev or root.name
    else:
        root = Path(spec)
        if not root.exists():
            raise InputError("no such file or folder", printable(spec))
        name = root.resolve().name
    source = _load_path(root, fmt)
    source.spec, source.name, source.revision = spec, name, revision
    _assess(source)
    return source


def _load_path(root: Path, fmt: str) -> BatterySource:
    if root.is_dir() and fmt != "aipsy":
        stim = root / "stimuli" if (root / "stimuli").is_dir() else root
        # an emotion file marks our layout (complex_neutral.jsonl alone could be anyone's)
        if any(p.stem in EMOTIONS for p in stimulus_files(stim)):
            return _our_data_folder(root, stim)
    files = _split_files(root)
    if not files:
        raise InputError("unknown battery layout: no stimulus files found (expected "
                         "stimuli/<emotion>.jsonl, data/<split>-*.parquet, or <split>.jsonl, "
                         ".csv or .parquet files named by split)", printable(str(root)))
    rows = [r for path, split in files for r in _rows(path, split)]
    layout = fmt if fmt != "auto" else _detect(rows, root)
    if layout == "aipsy":
        return _from_aipsy(rows)
    return _ours_from_rows(rows, root)


# ---- reading files -------------------------------------------------------------------------

def _split_files(root: Path) -> list[tuple[Path, str | None]]:
    """Stimulus files and the split each holds (None: the rows say), in a stable order."""
    if root.is_file():
        return [(root, None)]
    known = (*SPLITS,)
    found: list[tuple[Path, str | None]] = []
    for folder in (root, root / "data"):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            m = _SPLIT_FILE.match(path.name)
            if path.is_file() and m and m["split"] in known:
                found.append((path, m["split"]))
    for split in known:  # a folder per split (data/<split>/*.parquet, <split>/*.jsonl)
        for folder in (root / split, root / "data" / split):
            if folder.is_dir():
                found += [(p, split) for p in sorted(folder.iterdir())
                          if p.is_file() and p.suffix.lstrip(".") in _READERS]
    return found


def _rows(path: Path, split: str | None) -> list[dict[str, Any]]:
    label = printable(str(path))
    reader = _READERS.get(path.suffix.lower().lstrip("."))
    if reader is None:
        raise InputError("unsupported file type: use .jsonl, .csv or .parquet", label)
    rows = reader(path, label)
    for row in rows:
        row["_file"] = str(path)
        rid = row.get("id")
        shown = printable(rid) if isinstance(rid, str) else None
        for col in ("id", "text"):
            if col not in row or is_missing(row[col]) or (
                    isinstance(row[col], str) and not row[col].strip()):
                raise InputError(f"missing required column {col!r}", label, row["_line"], shown)
            if not isinstance(row[col], str):
                raise InputError(f"{col!r} must be a string, got {type(row[col]).__name__}",
                                 label, row["_line"], shown)
        given = row.get("split")
        if split is not None and isinstance(given, str) and given and given != split:
            raise InputError(f"split column says {given!r} but the file holds {split!r}",
                             label, row["_line"], shown)
        row["_split"] = split if split is not None else (given or None)
    return rows


def _where(row: Mapping[str, Any]) -> tuple[str, int, str]:
    return printable(str(row["_file"])), int(row["_line"]), printable(str(row["id"]))


def _detect(rows: list[dict[str, Any]], root: Path) -> str:
    """``affect-battery`` when every id is ours; ``aipsy`` when some id is theirs and every
    clinical and neutral id is (moderate items may be placed by their links, complex_neutral
    ids are free, and a row of unknown split is judged by the importer)."""
    ours, theirs, some = True, True, False
    first_bad: dict[str, Any] | None = None
    for row in rows:
        try:
            parse_id(row["id"])
        except BadId:
            ours = False
        match = bool(_AIPSY_ID.match(row["id"]))
        some = some or match
        if row["_split"] in ("clinical", "neutral") and not match:
            theirs = False
            first_bad = first_bad or row
    if ours:
        return "affect-battery"
    if theirs and some:
        return "aipsy"
    f, line, rid = _where(first_bad or rows[0])
    raise InputError("unknown battery layout: ids follow neither affect-battery's scheme "
                     "(C-anger-d1-1) nor the AIPsy-Affect one (B-rage-d1-v1); give "
                     "--battery-format to force one", f, line, rid)


# ---- our own layout --------------------------------------------------------------------------

def _our_data_folder(root: Path, stim: Path) -> BatterySource:
    frame, findings = read_battery_with_findings(stim)
    frame = frame.assign(**{SOURCE_ID: frame["id"]})
    ratings_file = (stim.parent if stim != root else root) / "norms" / "ratings.jsonl"
    ratings = load_ratings(ratings_file) if ratings_file.is_file() else None
    return BatterySource("", "", "affect-battery", False, _ordered(frame), findings, ratings)


def _ours_from_rows(rows: list[dict[str, Any]], root: Path) -> BatterySource:
    """Items with our ids (an export folder, a file): completed exactly as the gate does."""
    raw = pd.DataFrame(rows)
    for row in rows:
        split = row["_split"]
        try:
            implied = parse_id(row["id"]).split
        except BadId as exc:
            f, line, rid = _where(row)
            raise InputError(str(exc), f, line, rid) from None
        if split is not None and implied != split:
            f, line, rid = _where(row)
            raise InputError(f"the id is a {implied} item but the file holds {split}", f,
                             line, rid)
    previous = raw[SOURCE_ID] if SOURCE_ID in raw else raw["id"]
    frame, findings = complete_items(raw[[c for c in raw.columns if c in (*COLUMNS,
                                                                          *PROVENANCE)]])
    frame[SOURCE_ID] = [p if isinstance(p, str) and p else i
                        for p, i in zip(previous, frame["id"], strict=True)]
    imported = bool((frame[SOURCE_ID] != frame["id"]).any())
    ratings = _export_ratings(root) if root.is_dir() else None
    layout = "affect-battery export" if root.is_dir() else "affect-battery"
    return BatterySource("", "", layout, imported, _ordered(frame), findings, ratings)


def _export_ratings(root: Path) -> pd.DataFrame | None:
    files = sorted((root / "norms").glob("ratings-*.parquet")) if (root / "norms").is_dir() \
        else []
    if not files:
        return None
    ratings = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    if not set(RATING_FIELDS) <= set(ratings.columns):
        return None
    return ratings[list(RATING_FIELDS)]


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    cols = [*COLUMNS, SOURCE_ID, *PROVENANCE]
    return canonical_order(frame)[cols]


# ---- the AIPsy-Affect layout -------------------------------------------------------------------

@dataclass(frozen=True)
class _Scenario:
    emotion: str
    domain: int
    n: int


def _primary(label: Any, row: Mapping[str, Any], what: str) -> str:
    if not isinstance(label, str) or label.strip().lower() not in RING_LABELS:
        f, line, rid = _where(row)
        raise InputError(f"unknown emotion label {printable(str(label))!r} in the {what} "
                         f"(expected one of Plutchik's ring labels, e.g. "
                         f"{', '.join(INTENSE_NAMES[e] for e in EMOTIONS)})", f, line, rid)
    return RING_LABELS[label.strip().lower()]


def _parse_aipsy(row: Mapping[str, Any]) -> tuple[str, _Scenario] | None:
    """(split implied by the prefix or None, scenario) of a scenario id, None if not one."""
    m = _AIPSY_ID.match(row["id"])
    if not m:
        return None
    f, line, rid = _where(row)
    emotion = _primary(m["label"], row, "id")
    domain, n = int(m["domain"]), int(m["n"])
    if not 1 <= domain <= 9:
        raise InputError(f"domain {domain} cannot be mapped (our ids take domains 1-9)",
                         f, line, rid)
    if not 1 <= n <= 99:
        raise InputError(f"item number {n} cannot be mapped (our ids take 1-99)", f, line, rid)
    return AIPSY_PREFIX_SPLIT.get(m["prefix"].upper(), ""), _Scenario(emotion, domain, n)


def _aipsy_split(row: Mapping[str, Any], parsed: tuple[str, _Scenario] | None) -> str:
    split = row["_split"] or (parsed[0] if parsed else None)
    if split not in ("clinical", "neutral", "moderate", "complex_neutral"):
        f, line, rid = _where(row)
        what = (f"split {split!r} is not one of the AIPsy-Affect layout's" if split
                else "cannot tell the split (name the file by its split, add a split column, "
                "or use the B/N/M id prefixes)")
        raise InputError(what, f, line, rid)
    return split


def _link(row: Mapping[str, Any]) -> str | None:
    value = row.get("matched_control_id")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _check_emotion(row: Mapping[str, Any], split: str, scenario: _Scenario) -> None:
    given = row.get("emotion")
    if is_missing(given) or (isinstance(given, str) and not given.strip()):
        return
    if split == "neutral" and isinstance(given, str) and given.strip().lower() in (NEUTRAL, NONE):
        return
    emotion = _primary(given, row, "emotion column")
    if emotion != scenario.emotion:
        f, line, rid = _where(row)
        raise InputError(f"emotion column says {printable(str(given))!r} ({emotion}) but the "
                         f"id is a {scenario.emotion} scenario", f, line, rid)


def _theme(label: Any) -> str:
    words = re.findall(r"[a-z]+", label.lower()) if isinstance(label, str) else []
    return "_".join(words) or "imported"


def _natural(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"([0-9]+)", text))


def _from_aipsy(rows: list[dict[str, Any]]) -> BatterySource:
    """Map AIPsy-Affect rows onto our ids (see the module docstring for every rule)."""
    by_source: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["id"] in by_source:
            f, line, rid = _where(row)
            raise InputError(f"duplicate id (first at {printable(by_source[row['id']]['_file'])}"
                             f":{by_source[row['id']]['_line']})", f, line, rid)
        by_source[row["id"]] = row
    parsed = {r["id"]: None if r["_split"] == "complex_neutral" else _parse_aipsy(r)
              for r in rows}  # complex_neutral ids are free: never read as scenarios
    splits = {r["id"]: _aipsy_split(r, parsed[r["id"]]) for r in rows}
    scen: dict[str, _Scenario] = {}
    for r in rows:  # clinical first: every other item is placed relative to them
        if splits[r["id"]] == "clinical":
            scen[r["id"]] = _need(r, parsed[r["id"]])
    partner = {}  # neutral source id -> clinical source id, from either side's link
    for r in rows:
        link, sp = _link(r), splits[r["id"]]
        if sp == "clinical" and link and splits.get(link) == "neutral":
            partner.setdefault(link, r["id"])
    for r in rows:
        link = _link(r)
        if splits[r["id"]] == "neutral" and r["id"] not in partner and link in scen:
            partner[r["id"]] = link
    for r in rows:
        sp = splits[r["id"]]
        if sp == "neutral":
            scen[r["id"]] = (scen[partner[r["id"]]] if r["id"] in partner
                             else _need(r, parsed[r["id"]]))
        elif sp == "moderate":
            link = _link(r)
            if parsed[r["id"]] is not None:
                scen[r["id"]] = parsed[r["id"]][1]  # type: ignore[index]
            elif link in scen:
                scen[r["id"]] = scen[link]  # type: ignore[index]
            else:
                _need(r, None)
    out: list[dict[str, Any]] = []
    for r in rows:
        sp = splits[r["id"]]
        if sp == "complex_neutral":
            continue
        s = scen[r["id"]]
        _check_emotion(r, sp, s)
        out.append(_row(r, make_id(sp, s.emotion, s.domain, s.n)))
    themes: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if splits[r["id"]] == "complex_neutral":
            themes.setdefault(_theme(r.get("domain_label")), []).append(r)
    for theme, members in themes.items():
        if len(members) > 99:
            f, line, rid = _where(members[99])
            raise InputError(f"theme {theme!r} has over 99 complex_neutral items (our ids "
                             "number them 01-99)", f, line, rid)
        for k, r in enumerate(sorted(members, key=lambda m: _natural(m["id"])), start=1):
            out.append(_row(r, f"X-{theme}-{k:02d}"))
    seen: dict[str, dict[str, Any]] = {}
    for r in out:
        if r["id"] in seen:
            f, line, rid = _where({**r, "id": r[SOURCE_ID]})
            raise InputError(f"maps to {r['id']}, as does {printable(seen[r['id']][SOURCE_ID])}"
                             " (two items of one scenario slot)", f, line, rid)
        seen[r["id"]] = r
    raw = pd.DataFrame(out)
    frame, findings = complete_items(raw[[*(c for c in ("id", "text", "domain_label")),
                                          *PROVENANCE]])
    frame[SOURCE_ID] = list(raw[SOURCE_ID])
    return BatterySource("", "", "aipsy", True, _ordered(frame), findings, None)


def _need(row: Mapping[str, Any], parsed: tuple[str, _Scenario] | None) -> _Scenario:
    if parsed is None:
        f, line, rid = _where(row)
        raise InputError("cannot map this id: expected e.g. B-rage-d1-v1 (clinical), "
                         "N-rage-d1-c1 (neutral) or M-rage-d1-v1 (moderate), or a "
                         "matched_control_id naming a mapped item", f, line, rid)
    return parsed[1]


def _row(r: Mapping[str, Any], our_id: str) -> dict[str, Any]:
    label = r.get("domain_label")
    return {"id": our_id, "text": r["text"],
            "domain_label": label.strip() if isinstance(label, str) and label.strip() else None,
            SOURCE_ID: r["id"], "_file": r["_file"], "_line": r["_line"]}


# ---- what can run ------------------------------------------------------------------------------

def _assess(source: BatterySource) -> None:
    """Fill ``capabilities`` and ``notes`` from the splits and norms the battery has."""
    counts = {s: int((source.frame["split"] == s).sum()) for s in SPLITS}
    caps = [
        Capability("twins", counts["keyword_rich"] > 0,
                   "no keyword_rich split: twin checks (twin keyword screen, classifier "
                   "accuracy on twins, McNemar across twins, keyword_rich_to_clinical patching) "
                   "not computed"),
        Capability("positive_control", counts["keyword_rich"] > 0,
                   "no keyword_rich split: no keyword-rich positive control"),
        Capability("moderate", counts["moderate"] > 0,
                   "no moderate split: moderate-intensity checks not computed"),
        Capability("complex_neutral", counts["complex_neutral"] > 0 and counts["clinical"] > 0,
                   "no complex_neutral split: complexity matching not computed"),
        Capability("norms", source.ratings is not None and len(source.ratings) > 0,
                   "no reading norms stored with this battery: norms section not computed"),
    ]
    source.capabilities = {c.name: c for c in caps}
    notes = []
    if source.imported:
        notes.append(f"imported from the {source.layout} layout: ids mapped onto affect-battery's"
                     f" scheme, originals kept in {SOURCE_ID}")
        notes.append("structural checks apply affect-battery's own design rules (lengths, "
                     "sentences, pair tolerances): their findings measure distance from our "
                     "design, not mistakes in the source")
    notes.append("items: " + ", ".join(f"{s} {n}" for s, n in counts.items()))
    labels = {"twins": "keyword-rich twins", "positive_control": "positive control",
              "moderate": "moderate split", "complex_neutral": "complex_neutral split",
              "norms": "reading norms"}
    for c in caps:
        state = "present" if c.available else "absent"
        skipped = {"twins": "twin checks skipped", "positive_control": "skipped",
                   "moderate": "moderate checks skipped",
                   "complex_neutral": "complexity matching skipped",
                   "norms": "norms section not computed"}[c.name]
        notes.append(f"{labels[c.name]}: {state}" + ("" if c.available else f", {skipped}"))
    source.notes = notes


# ---- writing it out ----------------------------------------------------------------------------

SOURCE_SPEC: tuple[Column, ...] = (
    *STIMULUS_SPEC, Column(SOURCE_ID, "string", False, "the item's id in the source battery"))


def export_files(source: BatterySource, report: Mapping[str, Any] | None = None
                 ) -> dict[str, bytes]:
    """The folder ``export --battery`` writes: parquet per split (our schema plus
    ``source_item_id``), a card saying which battery this is and that it was imported,
    ``source.json`` (capabilities, notes, the id mapping) and the defence report if given."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = canonical_order(source.frame)
    files: dict[str, bytes] = {}
    present = [s for s in SPLITS if (frame["split"] == s).any()]
    for split in present:
        table = arrow_table(frame[frame["split"] == split], SOURCE_SPEC)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        files[f"data/{split}-00000-of-00001.parquet"] = sink.getvalue().to_pybytes()
    meta = {**source.describe(), "mapping": source.mapping().to_dict(orient="records")}
    files["source.json"] = (json.dumps(meta, indent=2) + "\n").encode()
    if report is not None:
        files["defence_report.json"] = (json.dumps(report, indent=2, sort_keys=True)
                                        + "\n").encode()
    files["README.md"] = _card(source, present, report).encode()
    return files


def _card(source: BatterySource, present: Iterable[str],
          report: Mapping[str, Any] | None) -> str:
    splits = list(present)
    configs = "\n".join(f"  - split: {s}\n    path: data/{s}-*.parquet" for s in splits)
    what = ("imported from the " + source.layout + " layout and mapped onto affect-battery's "
            "schema" if source.imported else "in affect-battery's own layout")
    lines = [
        "---", "configs:", "- config_name: default", "  data_files:", configs, "---", "",
        f"# {source.name}: {'imported into' if source.imported else 'read by'} affect-battery",
        "",
        f"This folder holds the battery **{source.name}** (`{source.spec}`"
        + (f", revision `{source.revision}`" if source.revision else "") + f"), {what}. "
        "It is **not** the affect-battery release: its texts and design are its authors'; "
        "this folder only makes it readable by affect-battery's checks and analyses "
        "(`affect-battery validate --battery`, `analyze --battery`).",
        "",
        "| split | items |", "|---|---:|",
        *(f"| {s} | {int((source.frame['split'] == s).sum())} |" for s in splits),
        "",
        "## What can be checked", "",
        *(f"- {n}" for n in source.notes),
        "",
        f"Each item keeps its original id in `{SOURCE_ID}`; `source.json` lists the mapping.",
    ]
    if report is not None:
        lines += ["", f"`defence_report.json`: the defence battery in {report.get('mode')} mode "
                  f"(battery SHA-256 `{report.get('battery_sha256')}`)."]
    return "\n".join(lines) + "\n"


def write_folder(out: str | Path, files: Mapping[str, bytes], force: bool = False) -> Path:
    """Write ``files`` (relative path -> bytes) as the folder ``out``, whole or not at all."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UsageError(f"{out}: exists and is not empty; use --force to replace it")
    with atomic_dir(out) as tmp:
        for rel, data in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return out
