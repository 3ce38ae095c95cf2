"""``norms ingest``: read response files, validate them all, then append the kept ratings.

All files are checked before anything is written, so an unusable file (exit 2) leaves the
ratings store exactly as it was. Stored lines are only ever appended: the new file is the old
bytes followed by the new lines, written whole through a temporary file and a rename.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..._util.atomic import check_output_path, write_output_text
from ...core.norms import load_ratings, text_sha256
from . import label_studio
from .responses import (
    IngestResult,
    Response,
    Rules,
    check,
    parse_page_response,
    ratings,
    unusable,
)
from .study import Study

MAX_BYTES = 16 * 1024 * 1024
DEFAULT_RULES = Rules()


def read_responses(path: Path, study: Study) -> list[Response]:
    """A page download (one participant) or a Label Studio export (one per annotator)."""
    if not path.is_file():
        raise unusable(path, "file not found")
    if path.stat().st_size > MAX_BYTES:
        raise unusable(path, f"larger than {MAX_BYTES // 2**20} MiB; not a response file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise unusable(path, f"not valid JSON ({type(exc).__name__})") from None
    if isinstance(data, list):
        out = label_studio.read_export(path, study, data)
        for r in out:
            r.partial_ok = True
        return out
    return [parse_page_response(path, data)]


def ingest(paths: list[Path], study: Study, frame: pd.DataFrame, *,
           ratings_file: Path, rules: Rules = DEFAULT_RULES, write: bool = True) -> IngestResult:
    """Validate every file, then (``write``) append the kept participants' human ratings."""
    stored = load_ratings(ratings_file)
    seen = {r: f"{ratings_file}" for r in stored["reader"].unique()}
    current = {i: text_sha256(t) for i, t in zip(frame["id"], frame["text"], strict=True)}
    result = IngestResult(files=[str(p) for p in paths])
    for path in paths:
        for resp in read_responses(path, study):
            v = check(resp, study, current, rules, seen)
            seen[v.reader] = str(path)
            result.verdicts.append(v)
            if v.kept:
                result.rows.extend(ratings(v, study))
    if write and result.rows:
        append_ratings(ratings_file, result.rows)
    return result


def append_ratings(path: Path, rows: list[dict]) -> None:
    """Append JSON lines to the ratings store, written whole; refused onto a symbolic link,
    folder or device (``_util.atomic``)."""
    target = check_output_path(path)
    old = target.read_text(encoding="utf-8") if target.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    new = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    write_output_text(target, old + new)


def report_text(result: IngestResult, study: Study, ratings_file: Path, written: bool) -> str:
    """The ingest report: files, participants kept and excluded (and why), what was stored."""
    kept = [v for v in result.verdicts if v.kept]
    lines = [f"norms ingest: {len(result.files)} file(s), {len(result.verdicts)} "
             f"participant(s) of study {study.study_id}"]
    for v in result.verdicts:
        med = "n/a" if v.median_ms is None else f"{v.median_ms / 1000:.1f} s"
        what = (f"list {v.response.list_id}, {v.n_texts} texts, median {med} per text, "
                f"checks {v.checks_passed}/{v.n_checks}")
        if v.kept:
            lines.append(f"  kept      {v.response.participant} ({what})")
        else:
            lines.append(f"  excluded  {v.response.participant} ({what}): {v.reason}")
    excluded = len(result.verdicts) - len(kept)
    action = "stored" if written else "would store (--dry-run)"
    lines.append(f"{len(kept)} kept, {excluded} excluded; {action} {len(result.rows)} human "
                 f"ratings -> {ratings_file}")
    return "\n".join(lines) + "\n"
