"""The package's shape holds: the import-layer contract passes, and it bites when broken."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


def test_layer_contract_is_kept():
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "BROKEN" not in proc.stdout and proc.stdout.count("KEPT") >= 2


def test_layer_contract_fails_when_an_upward_import_is_added(tmp_path):
    shutil.copytree(ROOT / "affect_battery", tmp_path / "affect_battery",
                    ignore=shutil.ignore_patterns("__pycache__", "_data", "_cards"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    ids = tmp_path / "affect_battery" / "core" / "ids.py"
    ids.write_text(ids.read_text(encoding="utf-8") + "\nfrom ..publish import export  # noqa\n",
                   encoding="utf-8")
    proc = _lint(tmp_path)
    assert proc.returncode != 0
    assert "BROKEN" in proc.stdout
    assert "affect_battery.core.ids -> affect_battery.publish" in proc.stdout


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "affect_battery", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "usage: affect-battery" in proc.stdout


def test_a_closed_pipe_is_not_an_error():
    """`affect-battery screen ... | head -0`: the reader goes away; no traceback, exit 0."""
    proc = subprocess.run(
        f"{sys.executable} -m affect_battery screen 'She was furious and upset.' | head -c 0",
        shell=True, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
