"""The gate and the CLI as a user meets them: exit codes, one-line errors, output formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from affect_battery.cli import main
from affect_battery.validators.gate import run_gate

from .conftest import scenario_items, write_jsonl

FURIOUS = "She was furious."


@pytest.fixture
def clean_items() -> list[dict]:
    return scenario_items("anger", 5, 1, seed=42)


@pytest.fixture
def battery_env(mini_battery, monkeypatch):
    monkeypatch.setenv("AFFECT_BATTERY_DATA", str(mini_battery))
    return mini_battery


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_clean_file_exits_zero(tmp_path, clean_items, battery_env, capsys):
    f = write_jsonl(tmp_path / "new.jsonl", clean_items)
    code, out, _ = run(["gate", str(f)], capsys)
    assert code == 0, out
    assert "OK: 3 items checked, 0 error(s)"  # C, N, K (no moderate in d5) in out


def test_planted_furious_exits_one_naming_id_term_emotion(tmp_path, clean_items, battery_env,
                                                          capsys):
    items = [dict(i) for i in clean_items]
    items[1]["text"] = items[1]["text"] + " " + FURIOUS  # the neutral control
    items[1]["text"] = items[1]["text"].replace(" again at noon.", ".", 1)
    f = write_jsonl(tmp_path / "new.jsonl", items)
    code, out, _ = run(["gate", str(f)], capsys)
    assert code == 1
    line = next(ln for ln in out.splitlines() if "[keyword]" in ln)
    assert "N-anger-d5-1" in line and "'furious'" in line and "anger" in line
    assert line.startswith(f"{f}:2 ")


def test_json_and_github_formats(tmp_path, clean_items, battery_env, capsys):
    items = [dict(i) for i in clean_items]
    items[0]["text"] = items[0]["text"].replace(" again at noon.", ". Terrified, she ran.", 1)
    f = write_jsonl(tmp_path / "new.jsonl", items)
    code, out, _ = run(["gate", str(f), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["schema_version"] == 1
    kw = [x for x in report["findings"] if x["code"] == "keyword"]
    assert kw[0]["details"]["emotions"] == ["fear"] and kw[0]["item_id"] == "C-anger-d5-1"
    code, out, _ = run(["gate", str(f), "--format", "github"], capsys)
    assert code == 1
    assert f"::error file={f},line=1,title=affect-battery keyword::C-anger-d5-1" in out


def test_output_file_written_atomically(tmp_path, clean_items, battery_env, capsys):
    f = write_jsonl(tmp_path / "new.jsonl", clean_items)
    out_file = tmp_path / "reports" / "gate.json"
    code, _, _ = run(["gate", str(f), "--format", "json", "-o", str(out_file)], capsys)
    assert code == 0 and json.loads(out_file.read_text())["ok"] is True
    assert not list(out_file.parent.glob("*.tmp"))


def test_id_collision_with_battery(tmp_path, battery_env, capsys):
    items = scenario_items("anger", 1, 1, seed=1234)
    f = write_jsonl(tmp_path / "new.jsonl", items)
    code, out, _ = run(["gate", str(f)], capsys)
    assert code == 1 and "[id-collision]" in out


def test_editing_a_battery_file_replaces_it(battery_env, capsys):
    anger = battery_env / "stimuli" / "anger.jsonl"
    code, out, _ = run(["gate", str(anger)], capsys)
    assert code == 0, out


def test_csv_and_parquet_inputs(tmp_path, clean_items, battery_env, capsys):
    frame = pd.DataFrame(clean_items)
    frame.to_csv(tmp_path / "new.csv", index=False)
    frame.to_parquet(tmp_path / "new.parquet")
    for name in ("new.csv", "new.parquet"):
        code, out, _ = run(["gate", str(tmp_path / name)], capsys)
        assert code == 0, out


BAD_INPUTS = {
    "malformed": (b'{"id": "C-anger-d5-1", "text": "x"}\n{"id": oops}\n', "new.jsonl:2",
                  "malformed JSON"),
    "missing_text": (b'{"id": "C-anger-d5-1"}\n', "new.jsonl:1 C-anger-d5-1",
                     "missing required column 'text'"),
    "non_utf8": (b'{"id": "C-anger-d5-1", "text": "caf\xe9"}\n', "new.jsonl:1",
                 "not valid UTF-8"),
    "empty": (b"", "new.jsonl", "file is empty"),
    "blank_lines": (b"\n\n", "new.jsonl", "no items"),
    "not_object": (b"[1, 2]\n", "new.jsonl:1", "expected a JSON object"),
    "unknown_column": (b'{"id": "C-anger-d5-1", "text": "x", "mood": "calm"}\n',
                       "new.jsonl:1 C-anger-d5-1", "unknown column"),
    "too_long": (json.dumps({"id": "C-anger-d5-1", "text": "word " * 2001}).encode() + b"\n",
                 "new.jsonl:1 C-anger-d5-1", "over the 2000-word limit"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_unusable_input_exits_two_with_one_line(tmp_path, battery_env, capsys, name):
    payload, where, what = BAD_INPUTS[name]
    f = tmp_path / "new.jsonl"
    f.write_bytes(payload)
    code, out, err = run(["gate", str(f)], capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert where in err and what in err


@pytest.mark.parametrize("mutation,code_name", [
    (lambda items: [*items, dict(items[0])], "duplicate-id"),
    (lambda items: [i for i in items if not i["id"].startswith("N-")], "dangling-link"),
    (lambda items: [{**i, "emotion": "rage"} if i["id"].startswith("C-") else i
                    for i in items], "schema"),
    (lambda items: [{**i, "split": "train"} if i["id"].startswith("C-") else i
                    for i in items], "schema"),
    (lambda items: [{**i, "word_count": 3} if i["id"].startswith("C-") else i
                    for i in items], "count-mismatch"),
    (lambda items: [{**i, "matched_control_id": "C-anger-d5-2"} if i["id"].startswith("N-")
                    else i for i in items], "one-way-link"),
])
def test_item_problems_exit_one(tmp_path, clean_items, battery_env, capsys, mutation,
                                code_name):
    f = write_jsonl(tmp_path / "new.jsonl", mutation(clean_items))
    code, out, _ = run(["gate", str(f), "--format", "json"], capsys)
    assert code == 1
    assert code_name in {x["code"] for x in json.loads(out)["findings"]}


def test_missing_file_and_unknown_type(tmp_path, battery_env, capsys):
    code, _, err = run(["gate", str(tmp_path / "nope.jsonl")], capsys)
    assert code == 2 and "file not found" in err
    (tmp_path / "items.txt").write_text("x")
    code, _, err = run(["gate", str(tmp_path / "items.txt")], capsys)
    assert code == 2 and "unsupported file type" in err


def test_keyword_rich_needs_two_own_terms(tmp_path, clean_items, battery_env, capsys):
    items = [dict(i) for i in clean_items]
    k = next(i for i in items if i["id"].startswith("K-"))
    k["text"] = k["text"].replace("was furious and full of rage", "was furious")
    f = write_jsonl(tmp_path / "new.jsonl", items)
    code, out, _ = run(["gate", str(f)], capsys)
    assert code == 1 and "[keyword-rich-weak]" in out and "found 1" in out


def test_validate_and_stats_on_shipped_battery(battery_env, capsys, tmp_path):
    code, out, _ = run(["validate", "--schema-only", "--draft"], capsys)
    assert code == 0, out
    code, out, _ = run(["validate", "--schema-only"], capsys)
    assert code == 1 and "[count]" in out
    code, out, _ = run(["validate", "--classifier", "none", "--out", str(tmp_path / "r")], capsys)
    assert code == 1 and (tmp_path / "r" / "report.json").exists()  # strict counts fail
    code, out, _ = run(["stats", "--format", "json"], capsys)
    stats = json.loads(out)
    assert stats["counts"]["clinical"] == 16 and stats["pairs"]["n_pairs"] == 16


def test_screen_command(capsys):
    code, out, _ = run(["screen", "She", "was", "over", "the", "moon."], capsys)
    assert code == 1 and "over the moon" in out and "joy" in out


def test_gate_process_does_not_import_torch(tmp_path, clean_items, mini_battery):
    f = write_jsonl(tmp_path / "new.jsonl", clean_items)
    probe = (
        "import sys\n"
        "from affect_battery.cli import main\n"
        f"code = main(['gate', {str(f)!r}])\n"
        "assert 'torch' not in sys.modules, 'gate imported torch'\n"
        "assert 'transformers' not in sys.modules\n"
        "sys.exit(code)\n"
    )
    env = {"AFFECT_BATTERY_DATA": str(mini_battery), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_console_script_reports_without_traceback(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "C-anger-d1-1", "text": \n', encoding="utf-8")
    exe = Path(sys.executable).with_name("affect-battery")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "affect_battery.cli"]
    proc = subprocess.run([*cmd, "gate", str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "bad.jsonl:1" in proc.stderr


def test_run_gate_api_without_battery(tmp_path, clean_items):
    f = write_jsonl(tmp_path / "new.jsonl", clean_items)
    report = run_gate([f], with_battery=False)
    assert report.exit_code == 0 and report.n_items == 3
