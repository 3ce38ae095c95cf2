"""The gate against careless and hostile input: one line and exit 2, never a traceback.

Every case goes through the real CLI (``affect_battery.cli.main``, or a subprocess where the
process itself must differ), so what is asserted is what a lab's CI would see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest

from affect_battery.cli import main
from affect_battery.core.items import MAX_FILE_BYTES, MAX_LINE_BYTES

from .conftest import scenario_items, write_jsonl

ID = "C-anger-d1-5"


def gate(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(["gate", "--no-battery", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_exit_two(code: int, out: str, err: str, *wanted: str) -> None:
    assert code == 2, (out, err)
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("affect-battery gate: error: ")
    for w in wanted:
        assert w in err, (w, err)


def jsonl(tmp_path: Path, payload: bytes, name: str = "new.jsonl") -> Path:
    f = tmp_path / name
    f.write_bytes(payload)
    return f


# ---- JSON that the parser itself cannot take -------------------------------------------------

def test_deeply_nested_json(tmp_path, capsys):
    depth = 50_000
    line = f'{{"id": "{ID}", "text": "x", "source_id": ' + "[" * depth + "]" * depth + "}"
    f = jsonl(tmp_path, b'{"id": "C-anger-d1-4", "text": "y"}\n' + line.encode() + b"\n")
    assert_one_line_exit_two(*gate([str(f)], capsys), f"{f}:2", "nested too deeply")


def test_integer_over_4300_digits(tmp_path, capsys):
    line = f'{{"id": "{ID}", "text": "x", "domain": {"7" * 5000}}}'
    f = jsonl(tmp_path, line.encode() + b"\n")
    assert_one_line_exit_two(*gate([str(f)], capsys), f"{f}:1", "malformed JSON", "digits")


@pytest.mark.parametrize("column", ["id", "text"])
def test_lone_surrogate_escape(tmp_path, capsys, column):
    item = {"id": ID, "text": "x SURROGATE y"}
    item[column] = item[column] + "SURROGATE"
    line = json.dumps(item).replace("SURROGATE", "\\ud800")  # the six-character JSON escape
    f = jsonl(tmp_path, line.encode() + b"\n")
    code, out, err = gate([str(f)], capsys)
    assert_one_line_exit_two(code, out, err, f"{f}:1", f"column '{column}'", "lone surrogate",
                             "\\ud800")
    if column == "text":
        assert f"{f}:1 {ID}:" in err


# ---- integers no column can hold ------------------------------------------------------------

def test_domain_beyond_int64_in_jsonl(tmp_path, capsys):
    f = jsonl(tmp_path, json.dumps({"id": ID, "text": "x", "domain": 2**70}).encode() + b"\n")
    assert_one_line_exit_two(*gate([str(f)], capsys), f"{f}:1 {ID}:", "'domain'",
                             "out of range")


@pytest.mark.parametrize("value", ["99999999999999999999", "-" + "9" * 30, "1e300"])
def test_domain_beyond_int64_in_csv(tmp_path, capsys, value):
    f = tmp_path / "new.csv"
    f.write_text(f"id,text,domain\nC-anger-d1-4,y,1\n{ID},x,{value}\n", encoding="utf-8")
    code, out, err = gate([str(f)], capsys)
    if value == "1e300":  # not an integer at all: a finding about the item, not unusable input
        assert code == 1 and "Traceback" not in err
        assert f"{f}:3 {ID}: error [bad-value] column 'domain': not an integer" in out
        return
    assert_one_line_exit_two(code, out, err, f"{f}:3 {ID}:", "'domain'", "out of range")


def test_huge_float_domain_in_jsonl(tmp_path, capsys):
    f = jsonl(tmp_path, json.dumps({"id": ID, "text": "x", "domain": 1e300}).encode() + b"\n")
    assert_one_line_exit_two(*gate([str(f)], capsys), f"{f}:1 {ID}:", "out of range")


# ---- files that cannot be opened ------------------------------------------------------------

def _checkout_traversable_by_others() -> bool:
    """As root, the test drops to "nobody", who must still reach the package and its data."""
    here = Path(__file__).resolve().parents[1]
    return all(d.stat().st_mode & 0o005 == 0o005 for d in (here, *here.parents))


@pytest.mark.skipif(os.geteuid() == 0 and not _checkout_traversable_by_others(),
                    reason="the checkout is not readable by an unprivileged user (e.g. a 0700 "
                           "mktemp folder), so the root-drops-to-nobody test cannot run here")
def test_unreadable_jsonl_permission_denied():
    # A real EACCES through the real CLI. Root reads anything, so as root the child process
    # imports the package first and then drops to the unprivileged "nobody" before running.
    folder = Path(tempfile.mkdtemp(prefix="ab-unreadable-"))
    try:
        folder.chmod(0o755)
        f = folder / "new.jsonl"
        f.write_text(json.dumps({"id": ID, "text": "x"}) + "\n", encoding="utf-8")
        f.chmod(0o000)
        drop = ("os.setgroups([]); os.setgid(65534); os.setuid(65534)"
                if os.geteuid() == 0 else "pass")
        # the command's module is imported before the drop too (the CLI imports it lazily, and
        # the unprivileged user may not be able to read this interpreter's standard library)
        script = ("import os, sys\nfrom affect_battery.cli import command, main\n"
                  "command('gate')\n"
                  f"{drop}\nsys.exit(main(['gate', '--no-battery', {str(f)!r}]))\n")
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[1], timeout=120)
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    assert_one_line_exit_two(proc.returncode, proc.stdout, proc.stderr, str(f),
                             "cannot read file", "ermission denied")


def test_not_a_regular_file(tmp_path, capsys):
    fifo = tmp_path / "new.jsonl"
    os.mkfifo(fifo)  # reading it would block the CI job forever
    assert_one_line_exit_two(*gate([str(fifo)], capsys), str(fifo), "not a regular file")


# ---- JSON Lines records end at "\n" only ----------------------------------------------------

@pytest.mark.parametrize("sep", ["\u2028", "\u0085", "\u2029"])
def test_unicode_line_separators_inside_strings_are_valid_jsonl(tmp_path, capsys, sep):
    items = scenario_items("anger", 5, 1, seed=42)
    items[0]["text"] = items[0]["text"].replace(" ", f" {sep}", 1)
    f = write_jsonl(tmp_path / "new.jsonl", items)  # ensure_ascii=False: the raw character
    assert sep.encode() in f.read_bytes()
    code, out, err = gate([str(f), "--format", "json"], capsys)
    assert code in (0, 1), err  # the text may be flagged, but the file is readable
    assert err == ""
    report = json.loads(out)
    assert report["n_items"] == len(items)
    assert not any("malformed" in x["message"] for x in report["findings"])


# ---- CSV rows that do not fit the header ----------------------------------------------------

def test_csv_row_with_more_fields_than_header(tmp_path, capsys):
    f = tmp_path / "new.csv"
    f.write_text("id,text\nC-anger-d1-4,fine\n"
                 f'"{ID}","a quoted\nfield over two lines"\nC-anger-d1-6,she came, then left\n',
                 encoding="utf-8")
    assert_one_line_exit_two(*gate([str(f)], capsys), f"{f}:5 C-anger-d1-6:",
                             "3 fields but the header has 2")


def test_csv_duplicate_header(tmp_path, capsys):
    f = tmp_path / "new.csv"
    f.write_text(f"id,text,text\n{ID},a,b\n", encoding="utf-8")
    assert_one_line_exit_two(*gate([str(f)], capsys), f"{f}:1", "duplicate column")


# ---- ids cannot forge report lines ----------------------------------------------------------

FORGED = "C-anger-d1-5\nOK: 3 items checked, 0 error(s)"


@pytest.mark.parametrize("fmt", ["text", "github"])
def test_id_with_newline_is_printed_escaped(tmp_path, capsys, fmt):
    items = [{"id": FORGED, "text": "The kettle was on the table."},
             {"id": "X-\u2028\u202eforged-01", "text": "The lamp was on."}]
    f = write_jsonl(tmp_path / "new.jsonl", items)
    code, out, err = gate([str(f), "--format", fmt], capsys)
    assert code == 1 and "Traceback" not in err
    lines = out.splitlines()
    assert not any(ln.startswith("OK:") for ln in lines)
    assert lines[-1].startswith("FAILED:")
    assert len(lines) == out.count("\n")  # no U+2028 or other separator inside a line
    assert sum("C-anger-d1-5\\nOK: 3 items" in ln for ln in lines) >= 1
    assert any("\\u2028\\u202e" in ln for ln in lines)
    assert "\u202e" not in out


def test_id_with_newline_in_an_input_error_stays_one_line(tmp_path, capsys):
    f = write_jsonl(tmp_path / "new.jsonl", [{"id": FORGED, "text": "x", "mood": "calm"}])
    assert_one_line_exit_two(*gate([str(f)], capsys), "C-anger-d1-5\\nOK: 3 items",
                             "unknown column")


# ---- size limits apply before parsing -------------------------------------------------------

def test_huge_single_line_file_is_refused_before_reading(tmp_path, capsys):
    f = tmp_path / "new.jsonl"
    with f.open("wb") as fh:  # 50 MB, one line
        fh.write(b'{"id": "C-anger-d1-5", "text": "')
        chunk = b"word " * 200_000
        for _ in range(50):
            fh.write(chunk)
        fh.write(b'"}\n')
    assert f.stat().st_size > MAX_FILE_BYTES
    tracemalloc.start()
    try:
        code, out, err = gate([str(f)], capsys)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_one_line_exit_two(code, out, err, str(f), "MiB limit")
    assert peak < 5 * 1024 * 1024


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_over_long_line_is_refused_before_parsing(tmp_path, capsys, suffix):
    big = "x" * (MAX_LINE_BYTES + 10)
    if suffix == ".jsonl":
        payload = (json.dumps({"id": "C-anger-d1-4", "text": "y"}) + "\n"
                   + json.dumps({"id": ID, "text": big}) + "\n")
    else:
        payload = f"id,text\nC-anger-d1-4,y\n{ID},{big}\n"
    f = tmp_path / f"new{suffix}"
    f.write_text(payload, encoding="utf-8")
    line = 2 if suffix == ".jsonl" else 3
    assert_one_line_exit_two(*gate([str(f)], capsys), f"{f}:{line}", "KiB limit")


def test_domain_beyond_int32_in_parquet(tmp_path, capsys):
    f = tmp_path / "new.parquet"
    pd.DataFrame({"id": [ID], "text": ["x"], "domain": [2**40]}).to_parquet(f)
    assert_one_line_exit_two(*gate([str(f)], capsys), f"{f}:1 {ID}:", "out of range")


def test_csv_blank_and_crlf_lines_read_as_before(tmp_path, capsys):
    items = scenario_items("anger", 5, 1, seed=42)
    body = "".join(f'{i["id"]},"{i["text"]}"\r\n\r\n   \r\n' for i in items)
    f = tmp_path / "new.csv"
    f.write_bytes(("\ufeffid,text\r\n" + body).encode())
    code, out, err = gate([str(f), "--format", "json"], capsys)
    assert code in (0, 1) and err == ""
    assert json.loads(out)["n_items"] == len(items)


# ---- one bad row never hides the checks of the others ----------------------------------------

def test_schema_error_does_not_hide_cross_row_checks(tmp_path, capsys):
    # Item 1 breaks the row schema (domain 7); the clean pair that follows has a neutral far
    # too short for its clinical, and a third item copies the bad row's text. Every one of
    # those problems must be reported, not only the schema error.
    good = scenario_items("fear", 1, 1, seed=3)[:2]
    good[1]["text"] = "Short text."
    bad = {"id": "C-anger-d7-9", "text": good[0]["text"] + " Extra words here."}
    copy = {"id": "C-joy-d2-1", "text": bad["text"]}
    f = write_jsonl(tmp_path / "new.jsonl", [bad, *good, copy])
    code, out, _ = gate(["--format", "json", str(f)], capsys)
    assert code == 1
    found = {(x["item_id"], x["code"]) for x in json.loads(out)["findings"]}
    assert ("C-anger-d7-9", "schema") in found
    assert ("N-fear-d1-1", "pair-length") in found
    assert ("C-joy-d2-1", "duplicate-text") in found
    # the joy item's missing neutral is reported, the anger row's is not (its schema error is)
    assert ("C-joy-d2-1", "dangling-link") in found
    assert ("C-anger-d7-9", "dangling-link") not in found


def test_link_to_a_bad_row_is_not_reported_again_as_dangling(tmp_path, capsys):
    clinical, neutral = scenario_items("fear", 1, 1, seed=4)[:2]
    clinical["version_added"] = "soon"  # breaks the schema (a version is X.Y.Z)
    f = write_jsonl(tmp_path / "new.jsonl", [clinical, neutral])
    code, out, _ = gate(["--format", "json", str(f)], capsys)
    found = {(x["item_id"], x["code"]) for x in json.loads(out)["findings"]}
    assert code == 1
    assert ("C-fear-d1-1", "schema") in found
    assert not any(c == "dangling-link" for _, c in found), found


# ---- the parquet files that `export` writes ---------------------------------------------------

def _export_style_parquet(path: Path, items: list[dict]) -> Path:
    """A parquet written the way ``export`` writes a split: HF features in the schema metadata,
    the emotion as an integer class label, and the descriptive norm columns."""
    import pyarrow.parquet as pq

    from affect_battery.core.battery import with_norms
    from affect_battery.core.columns import arrow_table
    from affect_battery.core.items import complete_items, read_items

    raw = read_items(write_jsonl(path.with_suffix(".jsonl"), items))
    frame, _ = complete_items(raw)
    pq.write_table(arrow_table(with_norms(frame)), path)
    return path


def test_gate_reads_the_export_parquet_with_integer_class_labels(tmp_path, capsys):
    items = scenario_items("sadness", 2, 1, seed=5)[:2]
    f = _export_style_parquet(tmp_path / "clinical-00000-of-00001.parquet", items)
    import pyarrow.parquet as pq
    assert pq.read_table(f).column("emotion").type == "int64"  # what a Hub export holds
    code, out, err = gate(["--format", "json", str(f)], capsys)
    assert "Traceback" not in err and code in (0, 1), err
    report = json.loads(out)
    assert report["n_items"] == 2
    # decoded back to names: no id-mismatch on emotion, no unknown norm columns
    assert not [x for x in report["findings"] if x["code"] in ("id-mismatch", "bad-value")]


def test_export_parquet_with_out_of_range_class_label(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    items = scenario_items("sadness", 2, 1, seed=5)[:2]
    f = _export_style_parquet(tmp_path / "c.parquet", items)
    table = pq.read_table(f)
    i = table.column_names.index("emotion")
    table = table.set_column(i, table.schema.field(i), pa.array([3, 99], type=pa.int64()))
    pq.write_table(table, f)
    assert_one_line_exit_two(*gate([str(f)], capsys), f"{f}:2", "class label 99")
