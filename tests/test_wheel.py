"""The data ships inside the wheel: load_battery works from an installed wheel, not the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return next(out.glob("affect_battery-*.whl"))


def test_wheel_contains_data(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "affect_battery/_data/lexicon/emotion_terms.yaml" in names
    assert "affect_battery/_data/stimuli/anger.jsonl" in names
    assert "affect_battery/_data/classifier/emotion_head.safetensors" in names
    assert "affect_battery/_cards/dataset_card.md" in names
    assert "affect_battery/_meta/CHANGELOG.md" in names
    shipped = {p.name for p in (ROOT / "data" / "stimuli").glob("*.jsonl")}
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("affect_battery/_data/stimuli/")
            } == shipped


def test_load_battery_from_installed_wheel(wheel: Path, tmp_path: Path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    probe = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(target)!r})\n"
        # drop the checkout (an editable install puts it on sys.path), keep site-packages
        f"sys.path = [p for p in sys.path if p.rstrip('/') != {str(ROOT)!r}]\n"
        "import affect_battery\n"
        "from affect_battery.core.paths import data_dir\n"
        "dd = affect_battery.load_battery()\n"
        "print(json.dumps({'file': affect_battery.__file__, 'data': str(data_dir()),\n"
        "  'counts': {k: v.num_rows for k, v in dd.items()}}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AFFECT_BATTERY_DATA"}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["file"].startswith(str(target))
    assert info["data"] == str(target / "affect_battery" / "_data")
    assert info["counts"]["clinical"] > 0
