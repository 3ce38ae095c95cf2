"""Read stimulus items from JSONL, CSV or Parquet and complete them into battery rows.

Reading is strict about what makes a file unusable (encoding, syntax, missing id or text) and
raises :class:`InputError` naming file and line; size limits on the file and on each line apply
before anything is parsed, and no input, however hostile, ends in a traceback. Completion
derives every column the id fixes and reports, as findings, given values that disagree with the
id or the text.
"""

from __future__ import annotations

import csv
import io
import json
import math
import stat
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from .columns import COLUMNS, NORM_COLUMNS, STIMULUS_SPEC, is_missing
from .constants import REQUIRED_INPUT_COLUMNS
from .findings import Finding, InputError
from .ids import BadId, derived_fields
from .textstats import sentence_count, word_count

MAX_TEXT_WORDS = 2000
"""A text longer than this is not a vignette; refusing it early keeps the gate's cost bounded."""

MAX_FILE_BYTES = 16 * 1024 * 1024
"""An item file larger than this is refused before it is read (split it into several files)."""

MAX_LINE_BYTES = 256 * 1024
"""One JSON Lines record (or CSV line) larger than this is refused before it is parsed."""

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT_COLUMNS = frozenset(c.name for c in STIMULUS_SPEC if c.kind == "int32")

PROVENANCE = ("_file", "_line")
_DERIVED_FROM_ID = (
    "scenario", "split", "emotion", "source_emotion", "intensity", "has_keywords", "domain",
    "matched_control_id", "source_id",
)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def printable(value: str) -> str:
    """``value`` with every non-printable character (newlines, controls, lone surrogates,
    bidi overrides) written as a backslash escape, so it can never break or forge a line.

    >>> printable("C-anger-d1-1\\nOK: 0 error(s)")
    'C-anger-d1-1\\\\nOK: 0 error(s)'
    """
    if value.isprintable():
        return value
    out = []
    for ch in value:
        if ch.isprintable():
            out.append(ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        else:
            o = ord(ch)
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000
                       else f"\\U{o:08x}")
    return "".join(out)


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown_id(value: Any) -> str | None:
    return printable(value) if isinstance(value, str) else None


def _read_bytes(path: Path, label: str) -> bytes:
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or type(exc).__name__})",
                         label) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(_too_large(), label)
    return raw


def _too_large() -> str:
    return (f"file is over the {MAX_FILE_BYTES // (1024 * 1024)} MiB limit for an item file; "
            "split it into several files")


def _check_lines(raw: bytes, label: str) -> None:
    """Refuse an over-long line before anything parses it (bounded memory and time)."""
    for lineno, bline in enumerate(raw.split(b"\n"), start=1):
        if len(bline) > MAX_LINE_BYTES:
            raise InputError(f"line is {len(bline)} bytes, over the {MAX_LINE_BYTES // 1024} KiB "
                             "limit for one item", label, lineno)


def _decode(raw: bytes, label: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                         label, line) from None
    return text[1:] if text.startswith("\ufeff") else text


def _is_valid_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_strings(obj: dict[str, Any], label: str, line: int) -> None:
    """Lone surrogates (``"\\ud800"`` escapes) are valid JSON but not text: refuse them."""
    rid = obj.get("id")
    rid = _shown_id(rid) if isinstance(rid, str) and _is_valid_unicode(rid) else None
    for key, value in obj.items():
        for what in (key, value):
            if isinstance(what, str) and not _is_valid_unicode(what):
                bad = next(ch for ch in what if "\ud800" <= ch <= "\udfff")
                raise InputError(f"column {printable(key)!r} holds a lone surrogate "
                                 f"(\\u{ord(bad):04x}), which is not valid Unicode text",
                                 label, line, rid)


def _read_jsonl(path: Path, label: str) -> list[dict[str, Any]]:
    raw = _read_bytes(path, label)
    _check_lines(raw, label)
    text = _decode(raw, label)
    rows: list[dict[str, Any]] = []
    # JSON Lines ends records at "\n" only: U+2028, U+0085 and friends may sit inside strings
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON ({exc.msg}, column {exc.colno})", label,
                             lineno) from None
        except RecursionError:
            raise InputError("malformed JSON (nested too deeply)", label, lineno) from None
        except ValueError as exc:  # e.g. an integer over sys.get_int_max_str_digits() digits
            raise InputError(f"malformed JSON ({str(exc).split(';')[0]})", label,
                             lineno) from None
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object per line, got {type(obj).__name__}",
                             label, lineno)
        _check_strings(obj, label, lineno)
        obj["_line"] = lineno
        rows.append(obj)
    return rows


def _read_csv(path: Path, label: str) -> list[dict[str, Any]]:
    raw = _read_bytes(path, label)
    _check_lines(raw, label)
    text = _decode(raw, label)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    start = 1  # the physical line a record starts on (quoted fields may span lines)
    try:
        for rec in reader:
            line, start = start, reader.line_num + 1
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                continue  # a blank line
            if header is None:
                header = rec
                dupes = sorted({h for h in header if header.count(h) > 1})
                if dupes:
                    raise InputError(f"duplicate column(s) {', '.join(map(repr, dupes))} in the "
                                     "header", label, line)
                continue
            if len(rec) > len(header):
                rid = rec[header.index("id")] if "id" in header else None
                raise InputError(f"row has {len(rec)} fields but the header has {len(header)} "
                                 "(an unquoted comma?)", label, line, _shown_id(rid))
            padded = rec + [""] * (len(header) - len(rec))  # short rows: trailing blanks
            row: dict[str, Any] = dict(zip(header, padded, strict=True))
            row["_line"] = line
            rows.append(row)
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", label, reader.line_num) from None
    if header is None:
        raise InputError("file is empty", label)
    return rows


def _read_parquet(path: Path, label: str) -> list[dict[str, Any]]:
    """Rows of a parquet file, including a split file of this package's own Hub export.

    An export stores class-label columns (``emotion``) as integers, with the label names in the
    Hugging Face features of the file's schema metadata; they are decoded back to names here, so
    ``gate data/clinical-00000-of-00001.parquet`` reads what ``export`` wrote. The export's
    descriptive columns (the reading norms) are not inputs and are dropped.
    """
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises many types for unreadable files
        msg = f"cannot read PARQUET: {exc}".splitlines()[0] if str(exc) else \
            f"cannot read PARQUET ({type(exc).__name__})"
        raise InputError(printable(msg), label) from None
    labels = _class_label_names(table.schema.metadata or {})
    if labels:
        keep = [c for c in table.column_names if c not in NORM_COLUMNS]
        table = table.select(keep)
    try:
        rows = table.to_pylist()
    except Exception as exc:  # e.g. nested or extension types pyarrow cannot turn into Python
        raise InputError(printable(f"cannot read PARQUET rows ({type(exc).__name__})"),
                         label) from None
    for i, row in enumerate(rows):
        for col, names in labels.items():
            value = row.get(col)
            if isinstance(value, int) and not isinstance(value, bool):
                if not 0 <= value < len(names):
                    raise InputError(f"column {col!r}: class label {value} is out of range "
                                     f"(0-{len(names) - 1})", label, 1 + i,
                                     _shown_id(row.get("id")))
                row[col] = names[value]
        row["_line"] = 1 + i  # parquet has rows, not lines: report the 1-based row
    return rows


def _class_label_names(metadata: dict[bytes, bytes]) -> dict[str, list[str]]:
    """``{column: label names}`` for the ClassLabel columns of a ``datasets``-written parquet
    (its schema metadata holds ``{"info": {"features": ...}}`` under the key ``huggingface``)."""
    raw = metadata.get(b"huggingface")
    if not raw:
        return {}
    try:
        features = json.loads(raw)["info"]["features"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return {}
    out: dict[str, list[str]] = {}
    if isinstance(features, dict):
        for name, feat in features.items():
            if (isinstance(feat, dict) and feat.get("_type") == "ClassLabel"
                    and isinstance(feat.get("names"), list)):
                out[str(name)] = [str(n) for n in feat["names"]]
    return out


def _check_int(col: str, value: Any, label: str, line: int, rid: str | None) -> None:
    """Refuse integers no int32 column can hold (before any cast can overflow)."""
    if isinstance(value, bool):
        return
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return  # completion reports it as "not an integer"
        value = int(value)
    if isinstance(value, str):
        digits = value.strip().removeprefix("-")
        if not (digits.isascii() and digits.isdigit()):
            return
        if len(digits.lstrip("0")) > 10:
            shown = digits if len(digits) <= 20 else f"{digits[:12]}... ({len(digits)} digits)"
            raise InputError(f"column {col!r}: {shown} is out of range for an integer column",
                             label, line, rid)
        value = int(value.strip())
    if isinstance(value, int) and not _INT32_MIN <= value <= _INT32_MAX:
        shown = str(value) if value.bit_length() < 64 else f"a {value.bit_length()}-bit integer"
        raise InputError(f"column {col!r}: {shown} is out of range for an integer column",
                         label, line, rid)


def read_items(path: str | Path) -> pd.DataFrame:
    """Read raw items (id, text and any given columns) with ``_file`` and ``_line`` provenance."""
    path = Path(path)
    label = printable(str(path))  # the name as errors show it: a newline cannot forge a line
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError("file not found", label) from None
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or type(exc).__name__})",
                         label) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a directory, expected a .jsonl, .csv or .parquet file", label)
    if not stat.S_ISREG(st.st_mode):
        raise InputError("not a regular file, expected a .jsonl, .csv or .parquet file", label)
    suffix = path.suffix.lower()
    if st.st_size == 0:
        raise InputError("file is empty", label)
    if st.st_size > MAX_FILE_BYTES:
        raise InputError(_too_large(), label)
    if suffix in (".jsonl", ".json", ".ndjson"):
        rows = _read_jsonl(path, label)
    elif suffix == ".csv":
        rows = _read_csv(path, label)
    elif suffix in (".parquet", ".pq"):
        rows = _read_parquet(path, label)
    else:
        raise InputError(f"unsupported file type {suffix or '(none)'!r}: use .jsonl, .csv or "
                         ".parquet", label)
    if not rows:
        raise InputError("file contains no items", label)
    known = set(COLUMNS) | {"_line"}
    for row in rows:
        line = row["_line"]
        rid = _shown_id(row.get("id"))
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
        for col in _INT_COLUMNS & row.keys():
            _check_int(col, row[col], label, line, rid)
        n_words = word_count(row["text"])
        if n_words > MAX_TEXT_WORDS:
            raise InputError(f"text has {n_words} words, over the {MAX_TEXT_WORDS}-word limit "
                             "for an item", label, line, rid)
        row["_file"] = str(path)
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
