"""Response files -> checked human ratings.

A file that cannot be used (not a response file, a list of another study, an edited page, a
changed text, a participant seen before) stops the whole ingest with one line naming the file:
nothing is stored from any file then, so a lab fixes the batch and runs it again. A usable file
whose participant failed the attention checks or answered implausibly fast is *excluded*: its
answers are not stored, and the report says who and why (exclusions are a result to publish,
not an error).
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.constants import NONE, NORM_LABELS
from ...core.norms import text_sha256
from ...errors import InputError
from .study import FORMAT, Study, StudyList


@dataclass
class Answer:
    position: int
    code: str
    text_sha256: str
    label: str
    intensity: int
    rt_ms: int | None


@dataclass
class Response:
    """One participant's answers to one list, from a page download or a Label Studio export."""

    source: str
    participant: str
    list_id: str
    manifest_sha256: str
    instruction_version: str
    answers: list[Answer]
    study_id: str | None = None
    partial_ok: bool = False
    """Label Studio: an annotator who stopped early is excluded, not an unusable file."""


@dataclass(frozen=True)
class Rules:
    """Exclusion rules, fixed before the data are seen (PROTOCOL.md, human raters)."""

    min_median_ms: int = 2000
    """Median time per text below this: nobody reads a 60-100 word text and answers faster."""
    max_failed_checks: int = 0


@dataclass
class Verdict:
    response: Response
    reader: str
    kept: bool
    reason: str = ""
    n_texts: int = 0
    median_ms: float | None = None
    checks_passed: int = 0
    n_checks: int = 0


@dataclass
class IngestResult:
    files: list[str]
    verdicts: list[Verdict] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def unusable(path: str | Path, message: str) -> InputError:
    """The one-line error for a file that cannot be used (exit 2)."""
    return InputError(message, str(path))


def reader_id(study_id: str, participant: str) -> str:
    """The stored reader id: a hash, so a participant code (often a panel id) never ships."""
    return "h-" + hashlib.sha256(f"{study_id}:{participant}".encode()).hexdigest()[:12]


def parse_page_response(path: Path, data: Any) -> Response:
    """The JSON a list page downloads (see ``templates/page.html``)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise unusable(path, f"not a response file of the norms kit (format {FORMAT})")
    try:
        answers = [Answer(int(a["position"]), str(a["code"]), str(a["text_sha256"]),
                          str(a["label"]), int(a["intensity"]),
                          None if a.get("rt_ms") is None else int(a["rt_ms"]))
                   for a in data["answers"]]
        participant = str(data["participant"]).strip()
        return Response(str(path), participant, str(data["list"]),
                        str(data["list_manifest_sha256"]), str(data["instruction_version"]),
                        answers, study_id=str(data["study"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise unusable(path, f"malformed response file ({type(exc).__name__}: {exc})") from None


def check(resp: Response, study: Study, current_sha: dict[str, str], rules: Rules,
          seen: dict[str, str]) -> Verdict:
    """Validate one response against the study and the battery as it is now.

    Raises :class:`InputError` (one line) when the response cannot be used; returns a verdict
    (kept, or excluded with the reason) otherwise. ``seen`` maps reader ids already accepted
    (stored ratings, earlier files of this batch) to where they came from.
    """
    path = resp.source
    if resp.study_id is not None and resp.study_id != study.study_id:
        raise unusable(path, f"made for study {resp.study_id!r}, not {study.study_id!r}")
    if not resp.participant:
        raise unusable(path, "no participant code")
    lists = study.list_by_id()
    sl = lists.get(resp.list_id)
    if sl is None:
        raise unusable(path, f"wrong list: {resp.list_id!r} is not a list of study "
                             f"{study.study_id!r}")
    if resp.manifest_sha256 != sl.manifest_sha256:
        raise unusable(path, f"wrong list: the manifest hash of list {resp.list_id} differs "
                             "from the study's (a page of another build, or an edited page)")
    if resp.instruction_version != study.instruction_version:
        raise unusable(path, f"instruction version {resp.instruction_version!r} differs from "
                             f"the study's {study.instruction_version!r}")
    reader = reader_id(study.study_id, resp.participant)
    if reader in seen:
        raise unusable(path, f"duplicate participant {resp.participant!r} (already in "
                             f"{seen[reader]})")
    _check_answers(resp, sl, current_sha)
    return _verdict(resp, sl, reader, rules)


def _check_answers(resp: Response, sl: StudyList, current_sha: dict[str, str]) -> None:
    path = resp.source
    texts = {i.code: i for i in sl.items}
    checks = {c.code for c in sl.checks}
    check_sha = {c.code: text_sha256(c.text) for c in sl.checks}
    codes = [a.code for a in resp.answers]
    if len(set(codes)) != len(codes):
        dup = next(c for c in codes if codes.count(c) > 1)
        raise unusable(path, f"list {sl.list_id}: code {dup} answered twice")
    unknown = [c for c in codes if c not in texts and c not in checks]
    if unknown:
        raise unusable(path, f"wrong list: code {unknown[0]} is not in list {sl.list_id}")
    missing = [c for c in [*texts, *checks] if c not in set(codes)]
    if missing and not resp.partial_ok:
        raise unusable(path, f"list {sl.list_id}: {len(missing)} of "
                             f"{len(texts) + len(checks)} items unanswered (e.g. {missing[0]})")
    for a in resp.answers:
        expected = texts[a.code].text_sha256 if a.code in texts else check_sha[a.code]
        if a.text_sha256 != expected:
            raise unusable(path, f"changed text hash: code {a.code} of list {sl.list_id} was "
                                 "shown a text other than the study's")
        if a.code in texts and current_sha.get(texts[a.code].item_id) != expected:
            raise unusable(path, f"changed text hash: the battery's text behind code {a.code} "
                                 "changed since the study was built (build a new study)")
        if a.label not in NORM_LABELS and not resp.partial_ok:
            raise unusable(path, f"code {a.code}: label {a.label!r} is not one of the choices")
        if not 0 <= a.intensity <= 3 and not resp.partial_ok:
            raise unusable(path, f"code {a.code}: intensity {a.intensity} outside 0-3")


def _valid(a: Answer) -> bool:
    return a.label in NORM_LABELS and 0 <= a.intensity <= 3 and (a.label == NONE) == (
        a.intensity == 0)


def _verdict(resp: Response, sl: StudyList, reader: str, rules: Rules) -> Verdict:
    text_codes = {i.code for i in sl.items}
    by_code = {a.code: a for a in resp.answers}
    answered = [a for a in resp.answers if a.code in text_codes and _valid(a)]
    times = [a.rt_ms for a in answered if a.rt_ms is not None]
    median = float(statistics.median(times)) if times else None
    passed = sum(1 for c in sl.checks if c.code in by_code
                 and by_code[c.code].label == c.label
                 and by_code[c.code].intensity == c.intensity)
    v = Verdict(resp, reader, True, "", len(answered), median, passed, len(sl.checks))
    failed = len(sl.checks) - passed
    if len(answered) < len(text_codes):
        v.kept, v.reason = False, (f"incomplete: {len(answered)} of {len(text_codes)} texts "
                                   "answered validly")
    elif failed > rules.max_failed_checks:
        v.kept, v.reason = False, f"failed {failed} of {len(sl.checks)} attention checks"
    elif median is not None and median < rules.min_median_ms:
        v.kept, v.reason = False, (f"implausibly fast: median {median:.0f} ms per text "
                                   f"(< {rules.min_median_ms} ms)")
    return v


def ratings(v: Verdict, study: Study) -> list[dict[str, Any]]:
    """The stored rows of a kept response (``RATING_FIELDS``; checks are not ratings)."""
    sl = study.list_by_id()[v.response.list_id]
    items = {i.code: i for i in sl.items}
    rows = []
    for a in sorted(v.response.answers, key=lambda a: a.position):
        if a.code not in items:
            continue
        rows.append({"reader": v.reader, "rater_type": "human", "round": study.round,
                     "cycle": sl.cycle, "list": sl.number,
                     "instruction": v.response.instruction_version,
                     "item_id": items[a.code].item_id, "text_sha256": a.text_sha256,
                     "label": a.label, "intensity": a.intensity, "natural": None})
    return rows
