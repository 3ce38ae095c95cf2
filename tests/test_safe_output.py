"""`--output` of `gate` and `validate --schema-only`, as a user (or a hostile CI input) meets it.

The report is renamed into place only onto a regular file or a missing path; everything else is
refused with one line and exit 2, and a run that ends with exit 2 writes and removes nothing.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from affect_battery.cli import main

from .conftest import scenario_items, write_jsonl


@pytest.fixture
def battery_env(mini_battery, monkeypatch):
    monkeypatch.setenv("AFFECT_BATTERY_DATA", str(mini_battery))
    return mini_battery


@pytest.fixture
def items_file(tmp_path) -> Path:
    return write_jsonl(tmp_path / "new.jsonl", scenario_items("anger", 5, 1, seed=42))


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


def gate(items_file, out, capsys, *extra):
    code = main(["gate", str(items_file), "--format", "json", "-o", str(out), *extra])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def assert_refused(code, out, err, *words):
    assert code == 2, err
    assert out == ""  # the report is not printed either: the run did not start
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("affect-battery gate: error: "), err
    assert "Traceback" not in err and "no report written" in err
    for w in words:
        assert w in err


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_new_file_and_regular_file_are_written(tmp_path, items_file, battery_env, capsys):
    out = tmp_path / "reports" / "gate.json"
    code, stdout, _ = gate(items_file, out, capsys)
    assert code == 0 and json.loads(out.read_text())["ok"] is True
    assert json.loads(stdout) == json.loads(out.read_text())
    out.write_text("stale\n")
    code, _, _ = gate(items_file, out, capsys)
    assert code == 0 and json.loads(out.read_text())["ok"] is True
    assert no_temp_files(out.parent)


def test_directory_is_refused(tmp_path, items_file, battery_env, capsys):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    code, out, err = gate(items_file, folder, capsys)
    assert_refused(code, out, err, "folder")
    assert folder.is_dir() and (folder / "keep.txt").read_text() == "keep"
    assert no_temp_files(folder) and no_temp_files(tmp_path)


def test_fifo_is_refused_without_blocking(tmp_path, items_file, battery_env, capsys):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    code, out, err = gate(items_file, fifo, capsys)
    assert_refused(code, out, err, "FIFO")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert no_temp_files(tmp_path)


def test_device_is_refused(tmp_path, items_file, battery_env, capsys):
    dev = tmp_path / "null"
    try:  # a private copy of /dev/null, so a failing test can never replace the real one
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot create a device node here: {exc}")
    code, out, err = gate(items_file, dev, capsys)
    assert_refused(code, out, err, "device")
    assert stat.S_ISCHR(os.lstat(dev).st_mode)
    assert no_temp_files(tmp_path)


def test_symlink_is_refused_unless_followed(tmp_path, items_file, battery_env, capsys):
    target = tmp_path / "real.json"
    target.write_text("before\n")
    link = tmp_path / "link.json"
    os.symlink(target, link)
    code, out, err = gate(items_file, link, capsys)
    assert_refused(code, out, err, "symbolic link", "--follow-symlinks")
    assert link.is_symlink() and target.read_text() == "before\n"

    code, _, err = gate(items_file, link, capsys, "--follow-symlinks")
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["ok"] is True
    assert no_temp_files(tmp_path)


def test_followed_symlink_to_a_new_path_creates_its_target(tmp_path, items_file, battery_env,
                                                           capsys):
    target = tmp_path / "reports" / "gate.json"
    target.parent.mkdir()
    link = tmp_path / "link.json"
    os.symlink(target, link)  # dangling until the report is written
    code, _, err = gate(items_file, link, capsys, "--follow-symlinks")
    assert code == 0, err
    assert link.is_symlink() and json.loads(target.read_text())["ok"] is True


def test_followed_symlink_to_a_fifo_is_still_refused(tmp_path, items_file, battery_env, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link.json"
    os.symlink(fifo, link)
    code, out, err = gate(items_file, link, capsys, "--follow-symlinks")
    assert_refused(code, out, err, "FIFO")
    assert link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("under", ["a/report.json", "a/b/report.json"])
def test_path_under_a_regular_file_is_refused(tmp_path, items_file, battery_env, capsys, under):
    blocker = tmp_path / "a"
    blocker.write_text("a file, not a folder\n")
    code, out, err = gate(items_file, tmp_path / under, capsys)
    assert_refused(code, out, err, "not a folder")
    assert blocker.read_text() == "a file, not a folder\n"


def test_input_file_is_refused(tmp_path, items_file, battery_env, capsys):
    before = items_file.read_bytes()
    code, out, err = gate(items_file, items_file, capsys)
    assert_refused(code, out, err, "input file")
    assert items_file.read_bytes() == before

    # the same file by another name: a relative spelling, a followed link, a hard link
    rel = os.path.relpath(items_file)
    code, out, err = gate(items_file, rel, capsys)
    assert_refused(code, out, err, "input file")
    link = tmp_path / "link.json"
    os.symlink(items_file, link)
    code, out, err = gate(items_file, link, capsys, "--follow-symlinks")
    assert_refused(code, out, err, "input file")
    hard = tmp_path / "hard.json"
    os.link(items_file, hard)
    code, out, err = gate(items_file, hard, capsys)
    assert_refused(code, out, err, "input file")
    assert items_file.read_bytes() == before


def test_lexicon_and_battery_files_are_inputs_too(tmp_path, items_file, battery_env, capsys):
    stimulus = next(p for p in (battery_env / "stimuli").iterdir() if p.is_file())
    before = stimulus.read_bytes()
    code, out, err = gate(items_file, stimulus, capsys)
    assert_refused(code, out, err, "input file")
    assert stimulus.read_bytes() == before


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_report_respects_the_umask(tmp_path, items_file, battery_env, capsys, umask, mask,
                                       mode):
    umask(mask)
    out = tmp_path / f"gate-{mask:03o}.json"
    code, _, err = gate(items_file, out, capsys)
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == mode


def test_replaced_report_keeps_its_permissions(tmp_path, items_file, battery_env, capsys, umask):
    out = tmp_path / "gate.json"
    out.write_text("old\n")
    out.chmod(0o640)
    umask(0o077)
    code, _, err = gate(items_file, out, capsys)
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and json.loads(out.read_text())["ok"]


def test_exit_two_writes_nothing_and_keeps_the_stale_report(tmp_path, battery_env, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "C-anger-d1-1", "text": \n', encoding="utf-8")
    stale = tmp_path / "gate.json"
    stale.write_text('{"ok": true}\n')
    code = main(["gate", str(bad), "--format", "json", "-o", str(stale)])
    cap = capsys.readouterr()
    assert code == 2 and cap.out == ""
    assert stale.read_text() == '{"ok": true}\n'
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "bad.jsonl:1" in lines[0]
    assert f"no report written to {stale}" in lines[0]
    missing = tmp_path / "new-report.json"
    code = main(["gate", str(bad), "-o", str(missing)])
    assert code == 2 and not missing.exists()
    assert "no report written" in capsys.readouterr().err
    assert no_temp_files(tmp_path)


def test_validate_schema_only_output(tmp_path, battery_env, capsys):
    out = tmp_path / "schema.json"
    code = main(["validate", "--draft", "--schema-only", "--format", "json", "-o", str(out)])
    cap = capsys.readouterr()
    assert code in (0, 1), cap.err
    assert json.loads(out.read_text()) == json.loads(cap.out)

    folder = tmp_path / "folder"
    folder.mkdir()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    os.symlink(out, link)
    stimulus = next(p for p in (battery_env / "stimuli").iterdir() if p.is_file())
    for bad in (folder, fifo, link, out / "x.json", stimulus):
        before = out.read_bytes()
        code = main(["validate", "--draft", "--schema-only", "-o", str(bad)])
        cap = capsys.readouterr()
        assert code == 2 and cap.out == "", (bad, cap.err)
        assert cap.err.startswith("affect-battery validate: error: ")
        assert len(cap.err.strip().splitlines()) == 1 and "no report written" in cap.err
        assert out.read_bytes() == before
    assert folder.is_dir() and stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
    code = main(["validate", "--draft", "--schema-only", "-o", str(link), "--follow-symlinks"])
    cap = capsys.readouterr()
    assert code in (0, 1) and link.is_symlink()
    assert out.read_text() == cap.out and not cap.out.startswith("{")  # the text format now


def test_console_script_refuses_a_fifo_in_one_line(tmp_path, items_file, mini_battery):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    exe = Path(sys.executable).with_name("affect-battery")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "affect_battery.cli"]
    env = {**os.environ, "AFFECT_BATTERY_DATA": str(mini_battery)}
    proc = subprocess.run([*cmd, "gate", str(items_file), "-o", str(fifo)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "FIFO" in proc.stderr and stat.S_ISFIFO(os.lstat(fifo).st_mode)
