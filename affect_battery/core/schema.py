"""The battery's data contract: a pandera model for each row plus cross-row integrity rules.

Row-level types and vocabularies are a pandera ``DataFrameModel`` (validated lazily, so every
problem is reported at once). Rules that relate rows to each other (links, pair matching,
counts, near-duplicates) are plain functions over the frame that yield findings with item ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from pandera.typing import Series

from .constants import (
    COMPLEX_NEUTRAL_PER_THEME,
    COMPLEX_NEUTRAL_THEMES,
    EMOTIONS,
    EXPECTED_COUNTS,
    INTENSITIES,
    LABELS,
    MODERATE_DOMAINS,
    N_DOMAINS,
    SPLITS,
    TWINNED_ITEMS,
)
from .findings import Finding
from .ids import ID_PATTERN, make_id, parse_id
from .textstats import names_differ, shingle_words, word_shingles


class BatteryRow(pa.DataFrameModel):
    """One stimulus item. Extra columns (provenance) are allowed and ignored."""

    id: Series[str] = pa.Field(str_matches=ID_PATTERN, unique=True)
    split: Series[str] = pa.Field(isin=list(SPLITS))
    emotion: Series[str] = pa.Field(isin=list(LABELS))
    source_emotion: Series[str] = pa.Field(isin=list(EMOTIONS), nullable=True)
    intensity: Series[str] = pa.Field(isin=list(INTENSITIES))
    has_keywords: Series[bool]
    domain: Series[pd.Int64Dtype] = pa.Field(ge=1, le=N_DOMAINS, nullable=True)
    domain_label: Series[str] = pa.Field(str_length={"min_value": 1})
    matched_control_id: Series[str] = pa.Field(nullable=True)
    source_id: Series[str] = pa.Field(nullable=True)
    word_count: Series[int] = pa.Field(ge=1)
    sentence_count: Series[int] = pa.Field(ge=1)
    text: Series[str] = pa.Field(str_length={"min_value": 1})
    version_added: Series[str] = pa.Field(str_matches=r"^\d+\.\d+\.\d+$")

    class Config:
        strict = False
        coerce = False


@dataclass(frozen=True)
class IntegrityConfig:
    """Tolerances of the integrity rules; defaults are the ones docs/ARCHITECTURE.md publishes."""

    min_words: int = 70
    max_words: int = 140
    max_words_keyword_rich: int = 170
    min_sentences: int = 4
    max_sentences: int = 8
    neutral_word_tolerance: float = 0.05
    moderate_word_tolerance: float = 0.10
    keyword_rich_max_growth: float = 0.20
    near_duplicate_ngram: int = 5
    near_duplicate_jaccard: float = 0.5
    expected_counts: dict[str, int] = field(default_factory=lambda: dict(EXPECTED_COUNTS))


DEFAULT_CONFIG = IntegrityConfig()


def _where(frame: pd.DataFrame, idx: int) -> tuple[str | None, str | None, int | None]:
    return _loc(frame.loc[idx].to_dict())


def _loc(rec: dict) -> tuple[str | None, str | None, int | None]:
    """(item id, file, line) of a row record, for findings."""
    line = rec.get("_line")
    line = None if line is None or pd.isna(line) else int(line)
    item_id = rec["id"] if isinstance(rec.get("id"), str) else None
    return item_id, rec.get("_file"), line


Rows = pd.DataFrame | list[dict]
"""A frame, or its rows already as records (``validate_frame`` converts once for every rule)."""


def _records(frame: Rows) -> list[dict]:
    """Rows as plain dicts: cross-row rules touch every row, and pandas row access is slow."""
    return frame if isinstance(frame, list) else frame.to_dict(orient="records")


def row_schema_findings(frame: pd.DataFrame, bad_rows: set[int] | None = None
                        ) -> list[Finding]:
    """Run the pandera model lazily and turn each failure case into a finding; the index of
    every row that breaks a rule (other than id uniqueness) is added to ``bad_rows``."""
    bad_rows = set() if bad_rows is None else bad_rows
    try:
        BatteryRow.validate(frame, lazy=True)
    except SchemaErrors as exc:
        findings = []
        cases = exc.failure_cases
        for rec in cases.to_dict(orient="records"):
            column = rec.get("column")
            check = str(rec.get("check"))
            value = rec.get("failure_case")
            index = rec.get("index")
            if index is None or pd.isna(index):
                findings.append(Finding("schema", f"column {column!r}: {check}"))
                continue
            item_id, file, line = _where(frame, int(index))
            code = "duplicate-id" if "field_uniqueness" in check or "unique" in check else "schema"
            if code == "duplicate-id":
                message = f"duplicate id {value!r}"
            else:
                message = f"column {column!r} value {value!r} fails {check}"
            findings.append(Finding(code, message, item_id, file, line,
                                    details={"column": column, "check": check}))
            if code == "schema":
                bad_rows.add(int(index))
        return findings
    return []


def _focused(rows: list[dict], focus: Collection[str] | None) -> list[dict]:
    """The rows to judge: all of them, or those whose id is in ``focus`` (the gate's new items;
    the shipped battery's own findings would be discarded anyway, so they are not computed)."""
    if focus is None:
        return rows
    return [row for row in rows if row["id"] in focus]


def _first_by_id(rows: list[dict]) -> dict[str, dict]:
    first: dict[str, dict] = {}
    for row in rows:
        first.setdefault(row["id"], row)
    return first


def link_findings(frame: Rows, focus: Collection[str] | None = None) -> list[Finding]:
    """Clinical <-> neutral links resolve both ways; moderate/keyword-rich point at a clinical.
    With ``focus``, only the rows with those ids are judged (against every row)."""
    out: list[Finding] = []
    rows = _records(frame)
    index = _first_by_id(rows)
    for row in _focused(rows, focus):
        item_id, file, line = _loc(row)
        split = row["split"]
        link = row["matched_control_id"]
        if split in ("clinical", "neutral"):
            partner_split = "neutral" if split == "clinical" else "clinical"
            if link is None:
                out.append(Finding("missing-link", f"{split} item has no matched_control_id",
                                   item_id, file, line))
            elif link not in index:
                out.append(Finding("dangling-link", f"matched_control_id {link!r} does not "
                                   "exist", item_id, file, line, details={"target": link}))
            else:
                partner = index[link]
                if partner["split"] != partner_split:
                    out.append(Finding("bad-link", f"matched_control_id {link!r} is a "
                                       f"{partner['split']} item, expected {partner_split}",
                                       item_id, file, line))
                elif partner["matched_control_id"] != item_id:
                    out.append(Finding("one-way-link", f"{link!r} links back to "
                                       f"{partner['matched_control_id']!r}, not to this item",
                                       item_id, file, line))
        elif link is not None:
            out.append(Finding("bad-link", f"{split} items carry no matched_control_id "
                               f"(got {link!r})", item_id, file, line))
        source = row["source_id"]
        if split in ("moderate", "keyword_rich"):
            if source is None:
                out.append(Finding("missing-link", f"{split} item has no source_id",
                                   item_id, file, line))
            elif source not in index:
                out.append(Finding("dangling-link", f"source_id {source!r} does not exist",
                                   item_id, file, line, details={"target": source}))
            elif index[source]["split"] != "clinical":
                out.append(Finding("bad-link", f"source_id {source!r} is not a clinical item",
                                   item_id, file, line))
        elif source is not None:
            out.append(Finding("bad-link", f"{split} items carry no source_id (got {source!r})",
                               item_id, file, line))
    return out


def length_findings(frame: Rows, cfg: IntegrityConfig = DEFAULT_CONFIG,
                    focus: Collection[str] | None = None) -> list[Finding]:
    out = []
    for row in _focused(_records(frame), focus):
        item_id, file, line = _loc(row)
        hi = cfg.max_words_keyword_rich if row["split"] == "keyword_rich" else cfg.max_words
        wc = int(row["word_count"])
        if not cfg.min_words <= wc <= hi:
            out.append(Finding("length", f"{wc} words, outside {cfg.min_words}-{hi}",
                               item_id, file, line, details={"word_count": wc}))
        sc = int(row["sentence_count"])
        if not cfg.min_sentences <= sc <= cfg.max_sentences:
            out.append(Finding("sentences", f"{sc} sentences, outside "
                               f"{cfg.min_sentences}-{cfg.max_sentences}", item_id, file, line,
                               details={"sentence_count": sc}))
    return out


def _relative_difference(a: int, b: int) -> float:
    return abs(a - b) / b if b else float("inf")


def pair_findings(frame: Rows, cfg: IntegrityConfig = DEFAULT_CONFIG,
                  focus: Collection[str] | None = None) -> list[Finding]:
    """Matching of neutral, moderate and keyword-rich items to their clinical item."""
    out = []
    rows = _records(frame)
    index = _first_by_id(rows)
    for row in _focused(rows, focus):
        split = row["split"]
        if split not in ("neutral", "moderate", "keyword_rich"):
            continue
        ref_id = row["matched_control_id"] if split == "neutral" else row["source_id"]
        if ref_id not in index:
            continue  # reported by link_findings
        ref = index[ref_id]
        if ref["split"] != "clinical":
            continue
        item_id, file, line = _loc(row)
        wc, ref_wc = int(row["word_count"]), int(ref["word_count"])
        diff = _relative_difference(wc, ref_wc)
        if split == "neutral":
            if diff > cfg.neutral_word_tolerance:
                out.append(Finding("pair-length", f"{wc} words vs {ref_wc} in {ref_id} "
                                   f"({diff:.1%}, tolerance {cfg.neutral_word_tolerance:.0%})",
                                   item_id, file, line))
            if int(row["sentence_count"]) != int(ref["sentence_count"]):
                out.append(Finding("pair-sentences", f"{row['sentence_count']} sentences vs "
                                   f"{ref['sentence_count']} in {ref_id}", item_id, file, line))
        elif split == "moderate" and diff > cfg.moderate_word_tolerance:
            out.append(Finding("pair-length", f"{wc} words vs {ref_wc} in {ref_id} ({diff:.1%}, "
                               f"tolerance {cfg.moderate_word_tolerance:.0%})",
                               item_id, file, line))
        elif split == "keyword_rich" and wc > ref_wc * (1 + cfg.keyword_rich_max_growth):
            out.append(Finding("pair-length", f"{wc} words, more than "
                               f"{cfg.keyword_rich_max_growth:.0%} longer than {ref_id} "
                               f"({ref_wc})", item_id, file, line))
        if split in ("neutral", "moderate", "keyword_rich"):
            missing, extra = names_differ(row["text"], ref["text"])
            if missing or extra:
                detail = "; ".join(p for p in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"new {', '.join(extra)}" if extra else "") if p)
                out.append(Finding("pair-characters", f"named characters differ from {ref_id}: "
                                   f"{detail}", item_id, file, line,
                                   details={"missing": missing, "extra": extra}))
    return out


def duplicate_findings(frame: Rows, cfg: IntegrityConfig = DEFAULT_CONFIG,
                       focus: Collection[str] | None = None) -> list[Finding]:
    """Identical texts anywhere, and near-duplicates (n-gram Jaccard) across scenarios.

    Candidate pairs come from an inverted index of shingles, so the cost grows with the number
    of shared n-grams rather than with the square of the battery size. A finding names the
    later of the two rows; with ``focus`` only findings naming a focus row are looked for.
    """
    out = []
    rows = _records(frame)
    judged = [focus is None or row["id"] in focus for row in rows]
    texts: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        texts[" ".join(row["text"].lower().split())].append(i)
    for positions in texts.values():
        for other in positions[1:]:
            if not judged[other]:
                continue
            item_id, file, line = _loc(rows[other])
            out.append(Finding("duplicate-text", f"same text as {rows[positions[0]]['id']}",
                               item_id, file, line))
    n = cfg.near_duplicate_ngram
    scenario = []
    for row in rows:
        try:
            scenario.append(parse_id(row["id"]).scenario)
        except ValueError:
            scenario.append(row["id"])
    if focus is None:
        full = [word_shingles(row["text"], n) for row in rows]
        grams: list[frozenset[tuple[str, ...]] | set[tuple[str, ...]]] = list(full)
    else:
        # Only n-grams of focus rows can make a reported pair, so each other row is scanned
        # for those alone (a word-by-word check, building an n-gram only where its first word
        # can start one); full n-gram sets are built just for the rows of candidate pairs.
        full_of: dict[int, frozenset[tuple[str, ...]]] = {
            i: word_shingles(row["text"], n) for i, row in enumerate(rows) if judged[i]}
        wanted = set().union(*full_of.values())
        firsts = {g[0] for g in wanted if g}
        grams = [full_of[i] if judged[i] else _grams_in(shingle_words(row["text"]), n, wanted,
                                                        firsts)
                 for i, row in enumerate(rows)]
    postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, sh in enumerate(grams):
        for g in sh:
            postings[g].append(i)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for positions in postings.values():
        if len(positions) > 50:  # a boilerplate n-gram; it cannot make a pair near-duplicate
            continue
        for k, a in enumerate(positions):
            for b in positions[k + 1:]:
                if judged[b] and scenario[a] != scenario[b]:
                    shared[(a, b)] += 1
    sizes: dict[int, int] = {}

    def size(i: int) -> int:
        if i not in sizes:
            sizes[i] = len(full[i]) if focus is None else len(
                full_of[i] if i in full_of else word_shingles(rows[i]["text"], n))
        return sizes[i]

    for (a, b), inter in shared.items():
        union = size(a) + size(b) - inter
        score = inter / union if union else 0.0
        if score > cfg.near_duplicate_jaccard:
            item_id, file, line = _loc(rows[b])
            out.append(Finding("near-duplicate", f"{cfg.near_duplicate_ngram}-gram Jaccard "
                               f"{score:.2f} with {rows[a]['id']} (another scenario)",
                               item_id, file, line, details={"jaccard": round(score, 3)}))
    return out


def _grams_in(words: list[str], n: int, wanted: set[tuple[str, ...]], firsts: set[str]
              ) -> set[tuple[str, ...]]:
    """The n-grams of ``words`` that are in ``wanted`` (the same as ``word_shingles & wanted``,
    including the one short n-gram of a text under n words)."""
    if len(words) < n:
        return {tuple(words)} & wanted if words else set()
    return {g for i in range(len(words) - n + 1)
            if words[i] in firsts and (g := tuple(words[i:i + n])) in wanted}


def count_findings(frame: pd.DataFrame, cfg: IntegrityConfig = DEFAULT_CONFIG) -> list[Finding]:
    """Completeness of the released battery: totals and every emotion x domain x slot cell."""
    out = []
    present = set(frame["id"])
    for split in SPLITS:
        n = int((frame["split"] == split).sum())
        want = cfg.expected_counts.get(split)
        if want is not None and n != want:
            out.append(Finding("count", f"split {split!r} has {n} items, expected {want}"))
    expected_ids = []
    for emo in EMOTIONS:
        for d in range(1, N_DOMAINS + 1):
            for n in range(1, 5):
                expected_ids += [make_id("clinical", emo, d, n), make_id("neutral", emo, d, n)]
            for n in TWINNED_ITEMS:
                expected_ids.append(make_id("keyword_rich", emo, d, n))
                if d in MODERATE_DOMAINS:
                    expected_ids.append(make_id("moderate", emo, d, n))
    missing = [i for i in expected_ids if i not in present]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8
                                          else "")
        out.append(Finding("count", f"{len(missing)} expected items missing: {shown}",
                           details={"missing": missing}))
    expected = set(expected_ids)
    for idx, item_id in zip(frame.index, frame["id"], strict=True):
        if item_id.startswith("X-") or item_id in expected:
            continue
        iid, file, line = _where(frame, idx)
        out.append(Finding("count", "id outside the released battery's slots (domains 1-6, "
                           "items 1-4; moderate d1-3 items 1-2; keyword_rich items 1-2)",
                           iid, file, line))
    cx = frame[frame["split"] == "complex_neutral"]
    themes = cx["domain_label"].value_counts()
    if len(cx) and (len(themes) != COMPLEX_NEUTRAL_THEMES
                    or any(themes != COMPLEX_NEUTRAL_PER_THEME)):
        out.append(Finding("count", f"complex_neutral must have {COMPLEX_NEUTRAL_THEMES} themes "
                           f"of {COMPLEX_NEUTRAL_PER_THEME}; found "
                           f"{dict(sorted(themes.items()))}"))
    return out


def validate_frame(frame: pd.DataFrame, strict: bool = True,
                   cfg: IntegrityConfig = DEFAULT_CONFIG,
                   focus: Collection[str] | None = None,
                   trusted: Collection[str] = ()) -> list[Finding]:
    """All structural rules. ``strict`` adds completeness (counts); draft mode skips only that.

    A row that breaks the row schema (say ``domain`` 7) is reported and left out of the
    cross-row rules, which assume well-typed rows; every other item still gets its link, pair,
    length and duplicate checks, so one bad row never hides the problems of the rest. A link to
    a left-out row is not reported again as dangling: the row's own error says what to fix.

    ``focus`` (a set of ids) limits the cross-row rules to the findings about those rows, still
    judged against every row: the gate asks only about new items, and skipping the findings it
    would discard is what keeps a 2-item gate run fast on a 700-item battery. Findings without
    an item (counts) are always computed.

    ``trusted`` ids name rows already known to pass the row schema together (the gate's base
    battery, checked when its cached table was built): the row schema runs on the others only.
    """
    bad: set[int] = set()
    checked = frame[~frame["id"].isin(trusted)] if trusted else frame
    findings = row_schema_findings(checked, bad)
    if any(f.code == "schema" and f.item_id is None for f in findings):
        return findings  # a whole column is unusable: no row can be checked against another
    bad &= set(frame.index)
    rows = frame.drop(index=sorted(bad)) if bad else frame
    left_out = set(frame.loc[sorted(bad), "id"]) if bad else set()
    records = _records(rows)  # once for every rule below: to_dict is their main cost
    cross = link_findings(records, focus)
    cross = [f for f in cross if not (f.code == "dangling-link"
                                      and f.details.get("target") in left_out)]
    cross += length_findings(records, cfg, focus)
    cross += pair_findings(records, cfg, focus)
    # needs only ids and texts, which every row has
    cross += duplicate_findings(_records(frame) if bad else records, cfg, focus)
    if strict:
        cross += count_findings(rows, cfg)
    return findings + cross


def summarise(findings: Iterable[Finding]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for f in findings:
        counts[f.code] += 1
    return dict(sorted(counts.items()))
