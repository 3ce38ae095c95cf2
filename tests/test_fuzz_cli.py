"""Fuzz the gate CLI (gate-hardening item 6): hostile and careless input never crashes it.

Files in JSON Lines, CSV and Parquet, built from valid-looking items and then mutated in
structure (missing, extra and misspelt fields, ragged rows, deep nesting, empty files, garbage
lines) and in value (wrong types, huge numbers, lone surrogates, control, invisible and bidi
characters), go through the real ``affect_battery.cli.main(["gate", ...])``. Whatever the input,
the exit code is 0, 1 or 2 and no traceback reaches stderr; an uncaught exception fails the test.
The strategies are reused by the longer campaign in ``tools/fuzz_gate.py``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affect_battery.cli import main
from affect_battery.core.columns import STIMULUS_COLUMNS

EXIT_CODES = {0, 1, 2}

EDGE_CHARS = [
    "\x00", "\x07", "\x1b", "\x7f", "\x85", "\u00a0", "\u00ad", "\u200b", "\u200c", "\u200d",
    "\u2028", "\u2029", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
    "\u2068", "\u2069", "\u061c", "\u200e", "\u200f", "\ufeff", "\ufffd", "\ufffe", "\uffff",
    "\ud800", "\udfff", "\udc80", "\U0001f600", "\U000e0041", "\u0430", "\u03bf", "\uff26",
    "\ufb01", "\u2126", "\u0301", "\r", "\n", "\t", "\"", ",", "\\", "{", "}",
]
SAFE_WORDS = ["Mara", "carried", "the", "lamp", "across", "bridge", "at", "noon", "and",
              "furious", "rage", "terrified", "she", "sat", "down", "."]

emotions = st.sampled_from(["anger", "fear", "sadness", "disgust", "joy", "trust", "surprise",
                            "anticipation", "neutral", "ANGER", "", "x"])
prefixes = st.sampled_from(["C", "N", "M", "K", "X", "c", "Q", ""])
weird_text = st.lists(st.one_of(st.sampled_from(SAFE_WORDS), st.sampled_from(EDGE_CHARS),
                                st.text(max_size=6)), max_size=30).map(" ".join)
ids = st.one_of(
    st.builds(lambda p, e, d, n: f"{p}-{e}-d{d}-{n}", prefixes, emotions,
              st.integers(-1, 8), st.integers(-2, 12)),
    st.builds(lambda t, n: f"X-{t}-{n:02d}", st.sampled_from(["craft", "lab", ""]),
              st.integers(0, 120)),
    weird_text,
)
huge_ints = st.one_of(st.integers(), st.sampled_from([2**31, -2**31 - 1, 2**63, 10**400,
                                                      -(10**400)]))
scalars = st.one_of(st.none(), st.booleans(), huge_ints,
                    st.floats(allow_nan=True, allow_infinity=True), weird_text,
                    st.sampled_from(["", "nan", "NaN", "null", "true", "1e999", "-0", "0x10",
                                     "１２", "3.0", " 4 "]))
json_values = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=5), kids, max_size=3)),
    max_leaves=8)
field_names = st.one_of(st.sampled_from(STIMULUS_COLUMNS), st.sampled_from(["mood", "ID",
                                                                           "text ", "\u202eid"]),
                        st.text(max_size=8))


valid_ids = st.one_of(
    st.builds(lambda p, e, d, n: f"{p}-{e}-d{d}-{n}", st.sampled_from("CNMK"),
              st.sampled_from(["anger", "fear", "joy", "sadness"]), st.integers(1, 9),
              st.integers(1, 3)),
    st.builds(lambda t, n: f"X-{t}-{n:02d}", st.sampled_from(["craft", "lab_work"]),
              st.integers(0, 3)),
)
# Mostly plain words, sometimes one edge character: these items pass the reader and reach the
# schema, Unicode and keyword checks.
plain_text = st.lists(st.one_of(*[st.sampled_from(SAFE_WORDS)] * 12,
                                st.sampled_from(EDGE_CHARS[:28] + EDGE_CHARS[31:39])),
                      min_size=3, max_size=40).map(" ".join)


@st.composite
def near_valid_items(draw: st.DrawFn, mutate: bool = True) -> dict[str, Any]:
    """An item that follows the id scheme, with at most one value mutated."""
    item: dict[str, Any] = {"id": draw(valid_ids), "text": draw(plain_text)}
    item["domain_label"] = draw(st.sampled_from(["family and home", "craft", "", "\u202e"]))
    if mutate and draw(st.integers(0, 3)) == 0:
        item[draw(st.sampled_from(STIMULUS_COLUMNS))] = draw(scalars)
    return item


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    """A valid-looking item, then structural and value mutations."""
    if draw(st.booleans()):
        return draw(near_valid_items())
    item: dict[str, Any] = {"id": draw(ids), "text": draw(weird_text)}
    for col in draw(st.lists(st.sampled_from(STIMULUS_COLUMNS), max_size=4)):
        item[col] = draw(scalars)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["drop", "extra", "retype"]))
        if action == "drop" and item:
            item.pop(draw(st.sampled_from(sorted(item))))
        elif action == "extra":
            item[draw(field_names)] = draw(json_values)
        elif item:
            item[draw(st.sampled_from(sorted(item)))] = draw(json_values)
    return item


def _json_line(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["item"] * 16 + ["value", "deep", "bignum", "garbage", "blank"]))
    if kind == "item":
        obj = draw(items())
        return json.dumps(obj, ensure_ascii=draw(st.booleans()), allow_nan=True).encode(
            "utf-8", "surrogatepass")
    if kind == "value":
        return json.dumps(draw(json_values)).encode()
    if kind == "deep":
        depth = draw(st.sampled_from([10, 1000, 5000, 100_000]))
        inner = "[" * depth + "]" * depth
        return ('{"id": "C-anger-d1-1", "text": "x", "domain": ' + inner + "}").encode()
    if kind == "bignum":
        digits = draw(st.sampled_from([20, 4300, 5000, 60_000]))
        return ('{"id": "C-anger-d1-1", "text": "x", "domain": ' + "9" * digits + "}").encode()
    if kind == "garbage":
        return draw(st.binary(max_size=40))
    return b""


@st.composite
def jsonl_files(draw: st.DrawFn) -> tuple[str, bytes]:
    n = draw(st.integers(0, 5))
    if draw(st.integers(0, 3)):  # mostly usable: the items reach the checks behind the reader
        lines = [json.dumps(draw(near_valid_items(mutate=False)), ensure_ascii=False).encode(
            "utf-8", "surrogatepass") for _ in range(max(n, 1))]
    else:
        lines = [_json_line(draw) for _ in range(n)]
    sep = draw(st.sampled_from([b"\n", b"\n", b"\r\n", b"\r", b"\n\n"]))
    tail = draw(st.sampled_from([b"", b"\n", b"\x00", b"\xef\xbb\xbf"]))
    head = draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf"]))
    return ".jsonl", head + sep.join(lines) + tail


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, bytes]:
    records = draw(st.lists(draw(st.sampled_from([items(), *[near_valid_items(mutate=False)] * 3])),
                            max_size=4))
    header = sorted({k for r in records for k in r}) or draw(st.lists(field_names, max_size=3))
    if draw(st.booleans()):
        header = header + draw(st.lists(field_names, max_size=2))  # extra or duplicate columns
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    if draw(st.integers(0, 9)):
        writer.writerow(header)
    for rec in records:
        row = [_cell(rec.get(col, "")) for col in header]
        if draw(st.integers(0, 4)) == 0:  # ragged
            row = row[:-1] if row and draw(st.booleans()) else [*row, "extra"]
        writer.writerow(row)
    text = buf.getvalue()
    if draw(st.integers(0, 9)) == 0:
        text += draw(st.sampled_from(['"unterminated\n', "a,\"b\"c\n", "\x00\n", ",,,\n"]))
    return ".csv", text.encode("utf-8", "surrogatepass")


@st.composite
def parquet_files(draw: st.DrawFn) -> tuple[str, bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = draw(st.lists(draw(st.sampled_from([items(), *[near_valid_items(mutate=False)] * 3])),
                            max_size=4))
    cols = sorted({k for r in records for k in r})
    arrays = {}
    for col in cols:
        values = [r.get(col) for r in records]
        try:
            arrays[col] = pa.array(values)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            arrays[col] = pa.array([None if v is None else
                                    repr(v).encode("utf-8", "backslashreplace").decode()
                                    for v in values])
    table = pa.table(arrays) if arrays else pa.table({})
    sink = io.BytesIO()
    try:
        pq.write_table(table, sink)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        return ".parquet", b"PAR1 not really parquet PAR1"
    data = sink.getvalue()
    if draw(st.integers(0, 9)) == 0:  # truncated or corrupted file
        data = data[: draw(st.integers(0, len(data)))]
    return ".parquet", data


odd_files = st.one_of(
    st.sampled_from([(".jsonl", b""), (".csv", b""), (".parquet", b""), (".jsonl", b"\n")]),
    st.tuples(st.sampled_from([".jsonl", ".csv", ".parquet", ".txt", ""]),
              st.binary(max_size=64)),
)
input_files = st.one_of(jsonl_files(), csv_files(), parquet_files(), odd_files)
options = st.lists(st.sampled_from([["--format", "json"], ["--format", "github"], ["--strict"]]),
                   max_size=2, unique_by=lambda o: o[0])


def run_gate_on(files: list[tuple[str, bytes]], extra: list[str]) -> tuple[int, str, str]:
    """Write the files to a fresh folder and run the real CLI on them, capturing its output."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n, (suffix, data) in enumerate(files):
            path = Path(tmp) / f"new{n}{suffix}"
            path.write_bytes(data)
            paths.append(str(path))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["gate", *paths, "--no-battery", *extra])
        return code, out.getvalue(), err.getvalue()


def check_outcome(code: Any, err: str) -> None:
    assert code in EXIT_CODES, f"exit code {code!r}"
    assert "Traceback" not in err, err


@settings(derandomize=True, max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(files=st.lists(input_files, min_size=1, max_size=2), extra=options)
def test_gate_cli_never_crashes(files, extra):
    code, _out, err = run_gate_on(files, [o for opt in extra for o in opt])
    check_outcome(code, err)


def test_gate_cli_fuzz_one_subprocess(tmp_path):
    """The same contract out of process: a hostile file gives a one-line error, exit 2."""
    import subprocess
    import sys

    bad = tmp_path / "new.jsonl"
    bad.write_bytes(b'{"id": "C-anger-d1-1", "text": "\\ud800", "domain": ' + b"[" * 100_000
                    + b"}\n")
    proc = subprocess.run([sys.executable, "-m", "affect_battery", "gate", str(bad),
                           "--no-battery"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
