"""Read stimulus items from JSONL, CSV or Parquet and complete them into battery rows.

Reading is strict about what makes a file unusable (encoding, syntax, missing id or text) and
raises :class:`InputError` naming file and line. Completion derives every column the id fixes
and reports, as findings, given values that disagree with the id or the text.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from .columns import COLUMNS, STIMULUS_SPEC, is_missing
from .constants import REQUIRED_INPUT_COLUMNS
from .findings import Finding, InputError
from .ids import BadId, derived_fields
from .textstats import sentence_count, word_count

MAX_TEXT_WORDS = 2000
"""A text longer than this is not a vignette; refusing it early keeps the gate's cost bounded."""

PROVENANCE = ("_file", "_line")
_DERIVED_FROM_ID = (
    "split", "emotion", "source_emotion", "intensity", "has_keywords", "domain",
    "matched_control_id", "source_id",
)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _read_jsonl(path: Path, label: str) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                         label, line) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    rows: list[dict[str, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON ({exc.msg}, column {exc.colno})", label,
                             lineno) from None
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object per line, got {type(obj).__name__}",
                             label, lineno)
        obj["_line"] = lineno
        rows.append(obj)
    return rows


def _read_table(path: Path, label: str, kind: str) -> list[dict[str, Any]]:
    try:
        if kind == "csv":
            raw = path.read_bytes()
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = raw[: exc.start].count(b"\n") + 1
                raise InputError(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})", label,
                                 line) from None
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
            first_line = 2  # header is line 1
        else:
            frame = pd.read_parquet(path)
            first_line = 1  # parquet has rows, not lines: report the 1-based row
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise InputError("file is empty", label) from None
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        raise InputError(f"cannot read {kind.upper()}: {exc}".splitlines()[0], label) from None
    rows = frame.to_dict(orient="records")
    for i, row in enumerate(rows):
        row["_line"] = first_line + i
    return rows


def read_items(path: str | Path) -> pd.DataFrame:
    """Read raw items (id, text and any given columns) with ``_file`` and ``_line`` provenance."""
    path = Path(path)
    label = str(path)
    if not path.exists():
        raise InputError("file not found", label)
    if path.is_dir():
        raise InputError("is a directory, expected a .jsonl, .csv or .parquet file", label)
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise InputError("file is empty", label)
    if suffix in (".jsonl", ".json", ".ndjson"):
        rows = _read_jsonl(path, label)
    elif suffix == ".csv":
        rows = _read_table(path, label, "csv")
    elif suffix in (".parquet", ".pq"):
        rows = _read_table(path, label, "parquet")
    else:
        raise InputError(f"unsupported file type {suffix or '(none)'!r}: use .jsonl, .csv or "
                         ".parquet", label)
    if not rows:
        raise InputError("file contains no items", label)
    known = set(COLUMNS) | {"_line"}
    for row in rows:
        line = row["_line"]
        rid = row.get("id") if isinstance(row.get("id"), str) else None
        for col in REQUIRED_INPUT_COLUMNS:
            if col not in row or _is_missing(row[col]):
                raise InputError(f"missing required column {col!r}", label, line, rid)
        if not isinstance(row["id"], str):
            raise InputError(f"'id' must be a string, got {type(row['id']).__name__}",
                             label, line)
        if not isinstance(row["text"], str):
            raise InputError(f"'text' must be a string, got {type(row['text']).__name__}",
                             label, line, rid)
        unknown = sorted(k for k in row if k not in known)
        if unknown:
            raise InputError(f"unknown column(s) {', '.join(map(repr, unknown))}; allowed: "
                             f"{', '.join(COLUMNS)}", label, line, rid)
        n_words = word_count(row["text"])
        if n_words > MAX_TEXT_WORDS:
            raise InputError(f"text has {n_words} words, over the {MAX_TEXT_WORDS}-word limit "
                             "for an item", label, line, rid)
        row["_file"] = label
    return pd.DataFrame(rows)


def _coerce(col: str, value: Any) -> Any:
    """Bring a CSV string or parquet scalar to the column's Python type (raises ValueError)."""
    kind = next(c.kind for c in STIMULUS_SPEC if c.name == col)
    if kind == "int32":
        if isinstance(value, bool):
            raise ValueError("not an integer")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        raise ValueError("not an integer")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError("not a boolean")
    if not isinstance(value, str):
        raise ValueError(f"not a string ({type(value).__name__})")
    return value


def complete_items(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[Finding]]:
    """Fill derivable columns; report given values that contradict the id or the text."""
    findings: list[Finding] = []
    rows: list[dict[str, Any]] = []
    for rec in raw.to_dict(orient="records"):
        item_id, file, line = rec["id"], rec.get("_file"), rec.get("_line")

        def finding(code: str, message: str, _id: str = item_id, _f: Any = file,
                    _l: Any = line, **details: Any) -> None:
            findings.append(Finding(code, message, _id, _f, _l, details=details))

        given: dict[str, Any] = {}
        for col in COLUMNS:
            if col in rec and not _is_missing(rec[col]):
                try:
                    given[col] = _coerce(col, rec[col])
                except ValueError as exc:
                    finding("bad-value", f"column {col!r}: {exc}", column=col)
        try:
            derived = derived_fields(item_id)
        except BadId as exc:
            finding("bad-id", str(exc))
            derived = {}
        row: dict[str, Any] = {col: None for col in COLUMNS}
        row.update(derived)
        for col, value in given.items():
            if col in _DERIVED_FROM_ID and col in derived and value != derived[col]:
                finding("id-mismatch", f"{col} is {value!r} but the id implies "
                        f"{derived[col]!r}", column=col)
            row[col] = value
        text = row["text"]
        for col, fn in (("word_count", word_count), ("sentence_count", sentence_count)):
            actual = fn(text)
            if col in given and given[col] != actual:
                finding("count-mismatch", f"{col} is {given[col]} but the text has {actual}",
                        column=col)
            row[col] = actual
        if row["version_added"] is None:
            row["version_added"] = __version__
        row["_file"], row["_line"] = file, line
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[*COLUMNS, *PROVENANCE])
    return to_typed_frame(frame), findings


def to_typed_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Apply the stimulus columns' dtypes (nullable integers where a column may be empty)."""
    out = frame.copy()
    for col in STIMULUS_SPEC:
        values = out[col.name] if col.name in out else pd.Series([None] * len(out), dtype=object)
        if col.kind == "int32" and col.nullable:
            out[col.name] = pd.array([None if is_missing(v) else int(v) for v in values],
                                     dtype="Int64")
        elif col.kind == "int32":
            out[col.name] = values.astype("int64")
        elif col.kind == "bool":
            out[col.name] = values.astype(bool)
        else:
            out[col.name] = values.astype(object).where(values.notna(), None)
    return out.reset_index(drop=True)
